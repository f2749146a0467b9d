# shellcheck shell=sh
# Shared by the fake docker clients (tests/fake/docker-*): everything that talks to
# the "engine". Sourced with CLIENT_VERSION and BUILDX (a version line, or empty)
# set. Knobs, from the environment:
#   FAKE_DOCKER_SERVER   engine version to report; "none": no engine answers;
#                        "hang": the engine never answers (the client sleeps)
#   FAKE_DOCKER_LOG      file that gets one line per call: the arguments
#   FAKE_DOCKER_IMAGES   "ref=id ..." images that exist for `image inspect`
# Only absolute paths: tests run these with a PATH holding nothing but fakes.
[ -n "${FAKE_DOCKER_LOG:-}" ] && echo "$*" >>"$FAKE_DOCKER_LOG"

no_engine() {
	echo "Cannot connect to the Docker daemon at ${DOCKER_HOST:-unix:///var/run/docker.sock}. Is the docker daemon running?" >&2
	exit 1
}

case "$1" in
--version)
	echo "Docker version $CLIENT_VERSION, build fake"
	exit 0 ;;
buildx)
	if [ -n "$BUILDX" ]; then echo "$BUILDX"; exit 0; fi
	echo "docker: 'buildx' is not a docker command." >&2
	exit 1 ;;
version)
	case "${FAKE_DOCKER_SERVER:-20.10.24}" in
	none) echo; no_engine ;;
	hang) exec /bin/sleep 600 ;;
	*) echo "${FAKE_DOCKER_SERVER:-20.10.24}"; exit 0 ;;
	esac ;;
image)
	[ "${FAKE_DOCKER_SERVER:-}" = none ] && no_engine
	for ref; do :; done
	for pair in ${FAKE_DOCKER_IMAGES:-}; do
		if [ "${pair%%=*}" = "$ref" ]; then echo "${pair#*=}"; exit 0; fi
	done
	echo "Error: No such image: $ref" >&2
	exit 1 ;;
rmi)
	echo "Error: No such image: $2" >&2
	exit 1 ;;
esac
