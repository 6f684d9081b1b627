# freeseg as a container image: the static binary on a minimal base,
# serving the HTTP API and the page on port 8080 (README "Container").
#
#   docker build -t freeseg .
#   docker run --rm -p 8080:8080 -v freeseg-cache:/cache freeseg
#   docker run --rm -p 8080:8080 -v freeseg-cache:/cache freeseg --model openai/clip-vit-large-patch14
#
# The first start downloads the model into the /cache volume; later starts
# reuse it (-e FREESEG_OFFLINE=1 never reaches the Hub). A model folder of
# your own: -v /path/to/model:/model:ro ... freeseg --model /model

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The build line of .ci/run (cmd/freeseg/dockerfile_test.go checks that
# they agree and that it gives a static binary).
RUN CGO_ENABLED=0 go build -o /out/freeseg ./cmd/freeseg
RUN mkdir -p /out/cache

# Static base: CA certificates (for the Hugging Face Hub), no shell, and a
# non-root user (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/freeseg /usr/local/bin/freeseg
COPY --from=build --chown=65532:65532 /out/cache /cache
ENV FREESEG_CACHE=/cache
VOLUME /cache
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/freeseg", "serve", "--addr", ":8080"]
