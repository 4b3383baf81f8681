/*
 * pam_probe SERVICE USER
 * pam_probe --direct MODULE.so SERVICE USER [ARG...]
 *
 * The first form opens and close a session through the real libpam
 * (like pamtester) and report what the session modules did to this process:
 * the PAM return codes, file descriptors left open, bytes written to stdout
 * or stderr, and whether the SIGCHLD disposition changed.  --direct calls
 * the module's pam_sm_open_session itself (on a real pam_start handle) with
 * the given arguments, so its exact return code is seen, not the stack's.  Output, one
 * key=value per line, goes to fd 3 so that fds 1 and 2 can be watched.
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_appl.h>

typedef int (*sm_fn)(pam_handle_t *, int, int, const char **);

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	(void)n;
	(void)msg;
	(void)data;
	*resp = NULL;
	return PAM_CONV_ERR;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static long
fd_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

int
main(int argc, char **argv)
{
	struct pam_conv c = { conv, NULL };
	struct sigaction before, after;
	pam_handle_t *pamh = NULL;
	sm_fn sm_open = NULL, sm_close = NULL;
	void *mod = NULL;
	int margc = 0;
	const char **margv = NULL;
	FILE *out;
	int fds_before, fds_after, rc_open, rc_close, rc;
	long out_before, err_before;

	if (argc >= 5 && strcmp(argv[1], "--direct") == 0) {
		mod = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
		if (mod == NULL) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			return 2;
		}
		sm_open = (sm_fn)dlsym(mod, "pam_sm_open_session");
		sm_close = (sm_fn)dlsym(mod, "pam_sm_close_session");
		if (sm_open == NULL || sm_close == NULL) {
			fprintf(stderr, "module lacks pam_sm_{open,close}_session\n");
			return 2;
		}
		margc = argc - 5;
		margv = (const char **)argv + 5;
		argv += 2;
		argc = 3;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: %s [--direct MODULE] SERVICE USER [ARG...] "
			"(stdout/stderr regular files, fd 3 open)\n", argv[0]);
		return 2;
	}
	out = fdopen(3, "w");
	if (out == NULL) {
		fprintf(stderr, "fd 3 is not open\n");
		return 2;
	}
	sigaction(SIGCHLD, NULL, &before);
	out_before = fd_size(1);
	err_before = fd_size(2);

	rc = pam_start(argv[1], argv[2], &c, &pamh);
	if (rc != PAM_SUCCESS) {
		fprintf(out, "pam_start=%d\n", rc);
		return 1;
	}
	/*
	 * Count after pam_start and after a first syslog() call: glibc keeps its
	 * /dev/log socket (close-on-exec) open for the process, as in any sshd.
	 */
	syslog(LOG_AUTHPRIV | LOG_DEBUG, "pam_probe: start");
	fds_before = count_fds();
	if (sm_open != NULL) {
		rc_open = sm_open(pamh, 0, margc, margv);
		rc_close = sm_close(pamh, 0, margc, margv);
	} else {
		rc_open = pam_open_session(pamh, 0);
		rc_close = pam_close_session(pamh, 0);
	}
	fds_after = count_fds();
	pam_end(pamh, rc_close);
	sigaction(SIGCHLD, NULL, &after);

	fprintf(out, "open_session=%d\n", rc_open);
	fprintf(out, "open_session_text=%s\n", pam_strerror(NULL, rc_open));
	fprintf(out, "close_session=%d\n", rc_close);
	fprintf(out, "fds_leaked=%d\n", fds_after - fds_before);
	fprintf(out, "stdout_bytes=%ld\n", fd_size(1) - out_before);
	fprintf(out, "stderr_bytes=%ld\n", fd_size(2) - err_before);
	fprintf(out, "sigchld_changed=%d\n",
		before.sa_handler != after.sa_handler || before.sa_flags != after.sa_flags);
	fclose(out);
	if (mod != NULL)
		dlclose(mod);
	return 0;
}
