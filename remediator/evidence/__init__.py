"""Evidence: where it comes from (snapshot folder, live cluster, Git) and how it is indexed."""
