# remediator: slim, non-root. docker build -t remediator . && docker run -p 8080:8080 remediator serve --help
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY remediator ./remediator
# an absolute path: hadolint (DL3013) takes a bare ".[render]" for an unpinned PyPI package
RUN pip install --no-cache-dir --prefix=/install "/src[render]"

FROM python:3.11-slim
# Debian package versions are not pinned: the base image fixes the Debian release, and a pinned
# version disappears from the archive with the next security update, which would break the build.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 remediator && useradd --uid 10001 --gid 10001 --home /var/lib/remediator --create-home remediator
COPY --from=build /install /usr/local
USER 10001:10001
# the journal (remediator-journal.sqlite by default) and the clone cache land here, owned by the
# non-root user; the Deployment mounts its PVC on the same path
WORKDIR /var/lib/remediator
ENV HOME=/var/lib/remediator PYTHONUNBUFFERED=1
EXPOSE 8080
ENTRYPOINT ["remediator"]
CMD ["serve", "--port=8080"]
