#ifndef GS_FAKE_REGISTRY_H
#define GS_FAKE_REGISTRY_H
/*
 * Starting one of the fake registries of tests/fake/ (Python programs that
 * listen on a free port of 127.0.0.1 and write it to a port file) from a
 * unit test. Tests run from the repository root; GS_SRCDIR says where it is
 * otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/process.h"
#include "util/strbuf.h"

/* Start `python3 tests/fake/SCRIPT [ARG] DIR/port` as `fake` (in its own
 * process group, for the caller to stop) and wait up to 5 s for the port;
 * `host` gets "127.0.0.1:PORT". 1 when it listens, 0 otherwise. */
static inline int fake_registry_start(struct process *fake, const char *script, const char *arg,
				      const char *dir, char *host, size_t host_size)
{
	char *portfile = xstrfmt("%s/port", dir);
	struct strbuf port = STRBUF_INIT;
	const char *py = access("/usr/bin/python3", X_OK) ? "python3" : "/usr/bin/python3";
	int ok = 0;

	process_init(fake);
	vec_pushstr(&fake->argv, py);
	if (getenv("GS_SRCDIR") && *getenv("GS_SRCDIR"))
		vec_pushf(&fake->argv, "%s/tests/fake/%s", getenv("GS_SRCDIR"), script);
	else
		vec_pushf(&fake->argv, "tests/fake/%s", script);
	if (arg)
		vec_pushstr(&fake->argv, arg);
	vec_pushstr(&fake->argv, portfile);
	fake->stdin_null = 1;
	fake->new_pgroup = 1;
	fake->kill_grace_ms = 200;
	fake->output = PROCESS_OUTPUT_INHERIT;
	if (process_start(fake) < 0)
		goto done;
	for (int i = 0; i < 500 && !ok; i++) {
		if (fs_read_file(portfile, &port, 64) == 0 && port.len) {
			snprintf(host, host_size, "127.0.0.1:%s", port.buf);
			ok = 1;
		} else {
			strbuf_reset(&port);
			usleep(10000);
		}
	}
done:
	free(portfile);
	strbuf_release(&port);
	return ok;
}

#endif
