/*
 * vmctr-init: the first process (PID 1) of a container that `vmctr build`
 * made. It reads the container's execution file (default /.vmctr/run.json),
 * starts the applications it lists in order, forwards the signals it gets to
 * them, reaps every zombie in the container, and exits when they have all
 * stopped: with the exit status of the first application that failed, or
 * else of the last one to exit.
 *
 * An application marked "wait" must exit 0 before the next one starts (a
 * setup step). When one fails, or when vmctr-init gets SIGTERM, SIGINT
 * or SIGQUIT, no more applications start, the running ones get
 * SIGTERM (or the signal itself), and whatever still runs after
 * "stopTimeout" seconds gets SIGKILL.
 *
 * The execution file is JSON (written by vmctr's rootfs package):
 *   {"version": 1, "stopTimeout": 10,
 *    "apps": [{"name": "nginx", "args": ["/usr/sbin/nginx", "-g", "daemon off;"],
 *              "env": ["K=V"], "cwd": "/", "wait": false}]}
 * Unknown keys are ignored, so that newer files still start.
 *
 * Without a PID namespace (not PID 1) it is a child subreaper, and kills
 * what is left of the apps' processes when it exits, as the kernel would
 * in a PID namespace.
 *
 * Built static (`make` puts it in _output/vmctr-init) so that it needs
 * nothing from the container's own files. It prints only errors, on stderr,
 * prefixed "vmctr-init:"; VMCTR_INIT_DEBUG=1 in its environment adds a line
 * per start and exit.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUN_FILE_DEFAULT "/.vmctr/run.json"
#define RUN_FILE_MAX (1 << 20)
#define MAX_DEPTH 64
#define EXIT_START_FAILED 127

extern char **environ;

static int debug;

static void msg(const char *fmt, ...)
{
	va_list ap;
	char buf[1024];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* one write per message, so that lines from several processes don't mix */
	if (write(STDERR_FILENO, "vmctr-init: ", 12) < 0 || write(STDERR_FILENO, buf, n) < 0)
		return;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p) {
		msg("out of memory");
		exit(EXIT_START_FAILED);
	}
	return p;
}

/* ---- a small JSON reader for the execution file ---- */

struct parser {
	const char *p, *end, *file;
	int depth;
	char err[256];
};

struct app {
	char *name;
	char **args; /* NULL-terminated */
	size_t nargs;
	char **env; /* NULL-terminated */
	size_t nenv;
	char *cwd;
	int wait;

	pid_t pid;
	int running, done, status;
};

struct runfile {
	struct app *apps;
	size_t napps;
	long stop_timeout;
};

static int fail(struct parser *ps, const char *what)
{
	if (!ps->err[0])
		snprintf(ps->err, sizeof(ps->err), "%s", what);
	return -1;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int expect(struct parser *ps, char c)
{
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != c) {
		char what[64];
		snprintf(what, sizeof(what), "expected '%c'", c);
		return fail(ps, what);
	}
	ps->p++;
	return 0;
}

static int peek(struct parser *ps)
{
	skip_ws(ps);
	return ps->p < ps->end ? (unsigned char)*ps->p : -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int read_hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h;
		if (ps->p >= ps->end || (h = hexval(*ps->p)) < 0)
			return fail(ps, "bad \\u escape");
		v = v << 4 | (unsigned)h;
		ps->p++;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* parse_string reads a JSON string; *out (if out) gets a NUL-terminated copy. */
static int parse_string(struct parser *ps, char **out)
{
	const char *start;
	char *buf, *o;

	if (expect(ps, '"') < 0)
		return -1;
	start = ps->p;
	/* the decoded string is never longer than its encoding */
	buf = o = NULL;
	if (out) {
		const char *q = start;
		while (q < ps->end && *q != '"') {
			if (*q == '\\' && q + 1 < ps->end)
				q++;
			q++;
		}
		buf = o = xcalloc((size_t)(q - start) + 1, 1);
	}
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p++;
		if (c < 0x20) {
			free(buf);
			return fail(ps, "control character in string");
		}
		if (c != '\\') {
			if (o)
				*o++ = (char)c;
			continue;
		}
		if (ps->p >= ps->end)
			break;
		c = (unsigned char)*ps->p++;
		char e;
		switch (c) {
		case '"': e = '"'; break;
		case '\\': e = '\\'; break;
		case '/': e = '/'; break;
		case 'b': e = '\b'; break;
		case 'f': e = '\f'; break;
		case 'n': e = '\n'; break;
		case 'r': e = '\r'; break;
		case 't': e = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (read_hex4(ps, &cp) < 0) {
				free(buf);
				return -1;
			}
			if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
				ps->p += 2;
				if (read_hex4(ps, &lo) < 0) {
					free(buf);
					return -1;
				}
				if (lo < 0xdc00 || lo > 0xdfff) {
					free(buf);
					return fail(ps, "bad surrogate pair");
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0) {
				free(buf);
				return fail(ps, "NUL in string");
			}
			/* \uXXXX takes 6 bytes and decodes to at most 3; a pair takes 12 for 4 */
			if (o)
				o += put_utf8(o, cp);
			continue;
		}
		default:
			free(buf);
			return fail(ps, "bad escape in string");
		}
		if (o)
			*o++ = e;
	}
	if (ps->p >= ps->end) {
		free(buf);
		return fail(ps, "unterminated string");
	}
	ps->p++;
	if (out)
		*out = buf;
	return 0;
}

static int parse_number(struct parser *ps, long *out)
{
	char *endp;
	long v;

	skip_ws(ps);
	errno = 0;
	/* the buffer is NUL-terminated, so strtol stops at its end */
	v = strtol(ps->p, &endp, 10);
	if (endp == ps->p || errno)
		return fail(ps, "bad number");
	if (endp < ps->end && (*endp == '.' || *endp == 'e' || *endp == 'E'))
		return fail(ps, "number is not an integer");
	ps->p = endp;
	if (out)
		*out = v;
	return 0;
}

static int parse_literal(struct parser *ps, const char *lit)
{
	size_t n = strlen(lit);
	skip_ws(ps);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
		return fail(ps, "bad literal");
	ps->p += n;
	return 0;
}

static int parse_bool(struct parser *ps, int *out)
{
	if (peek(ps) == 't') {
		*out = 1;
		return parse_literal(ps, "true");
	}
	*out = 0;
	return parse_literal(ps, "false");
}

static int skip_value(struct parser *ps);

/* each_member calls fn for each member of an object. */
static int each_member(struct parser *ps, int (*fn)(struct parser *, const char *key, void *), void *arg)
{
	int c;

	if (++ps->depth > MAX_DEPTH)
		return fail(ps, "nested too deeply");
	if (expect(ps, '{') < 0)
		return -1;
	if (peek(ps) == '}') {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		int r;
		if (parse_string(ps, &key) < 0 || expect(ps, ':') < 0) {
			free(key);
			return -1;
		}
		r = fn(ps, key, arg);
		free(key);
		if (r < 0)
			return -1;
		c = peek(ps);
		ps->p++;
		if (c == '}')
			break;
		if (c != ',')
			return fail(ps, "expected ',' or '}'");
	}
	ps->depth--;
	return 0;
}

static int skip_member(struct parser *ps, const char *key, void *arg)
{
	(void)key;
	(void)arg;
	return skip_value(ps);
}

static int skip_value(struct parser *ps)
{
	int c = peek(ps);
	switch (c) {
	case '{':
		return each_member(ps, skip_member, NULL);
	case '[':
		if (++ps->depth > MAX_DEPTH)
			return fail(ps, "nested too deeply");
		ps->p++;
		if (peek(ps) == ']') {
			ps->p++;
			ps->depth--;
			return 0;
		}
		for (;;) {
			if (skip_value(ps) < 0)
				return -1;
			c = peek(ps);
			ps->p++;
			if (c == ']')
				break;
			if (c != ',')
				return fail(ps, "expected ',' or ']'");
		}
		ps->depth--;
		return 0;
	case '"':
		return parse_string(ps, NULL);
	case 't':
		return parse_literal(ps, "true");
	case 'f':
		return parse_literal(ps, "false");
	case 'n':
		return parse_literal(ps, "null");
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			double d;
			char *endp;
			d = strtod(ps->p, &endp);
			(void)d;
			if (endp == ps->p)
				return fail(ps, "bad number");
			ps->p = endp;
			return 0;
		}
		return fail(ps, "unexpected character");
	}
}

/* parse_strings reads an array of strings into a NULL-terminated vector. */
static int parse_strings(struct parser *ps, char ***out, size_t *n)
{
	size_t cap = 8, len = 0;
	char **v;
	int c;

	if (expect(ps, '[') < 0)
		return -1;
	v = xcalloc(cap, sizeof(*v));
	if (peek(ps) == ']') {
		ps->p++;
		goto done;
	}
	for (;;) {
		if (len + 2 > cap) {
			cap *= 2;
			char **nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				msg("out of memory");
				exit(EXIT_START_FAILED);
			}
			v = nv;
		}
		if (parse_string(ps, &v[len]) < 0)
			return -1;
		len++;
		c = peek(ps);
		ps->p++;
		if (c == ']')
			break;
		if (c != ',')
			return fail(ps, "expected ',' or ']'");
	}
done:
	v[len] = NULL;
	*out = v;
	*n = len;
	return 0;
}

static int app_member(struct parser *ps, const char *key, void *arg)
{
	struct app *a = arg;

	if (!strcmp(key, "name"))
		return parse_string(ps, &a->name);
	if (!strcmp(key, "args"))
		return parse_strings(ps, &a->args, &a->nargs);
	if (!strcmp(key, "env"))
		return parse_strings(ps, &a->env, &a->nenv);
	if (!strcmp(key, "cwd"))
		return parse_string(ps, &a->cwd);
	if (!strcmp(key, "wait"))
		return parse_bool(ps, &a->wait);
	return skip_value(ps);
}

static int parse_apps(struct parser *ps, struct runfile *rf)
{
	size_t cap = 4;
	int c;

	if (expect(ps, '[') < 0)
		return -1;
	rf->apps = xcalloc(cap, sizeof(struct app));
	if (peek(ps) == ']') {
		ps->p++;
		return 0;
	}
	for (;;) {
		if (rf->napps == cap) {
			cap *= 2;
			struct app *na = realloc(rf->apps, cap * sizeof(struct app));
			if (!na) {
				msg("out of memory");
				exit(EXIT_START_FAILED);
			}
			rf->apps = na;
		}
		memset(&rf->apps[rf->napps], 0, sizeof(struct app));
		if (each_member(ps, app_member, &rf->apps[rf->napps]) < 0)
			return -1;
		rf->napps++;
		c = peek(ps);
		ps->p++;
		if (c == ']')
			break;
		if (c != ',')
			return fail(ps, "expected ',' or ']'");
	}
	return 0;
}

static int top_member(struct parser *ps, const char *key, void *arg)
{
	struct runfile *rf = arg;
	long v;

	if (!strcmp(key, "apps"))
		return parse_apps(ps, rf);
	if (!strcmp(key, "stopTimeout")) {
		if (parse_number(ps, &v) < 0)
			return -1;
		if (v < 0 || v > 86400)
			return fail(ps, "stopTimeout out of range (0-86400)");
		rf->stop_timeout = v;
		return 0;
	}
	if (!strcmp(key, "version")) {
		if (parse_number(ps, &v) < 0)
			return -1;
		if (v != 1)
			return fail(ps, "unsupported version (want 1)");
		return 0;
	}
	return skip_value(ps);
}

static int load_runfile(const char *path, struct runfile *rf)
{
	struct parser ps = {0};
	struct stat st;
	char *buf;
	ssize_t n;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		msg("opening execution file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > RUN_FILE_MAX) {
		msg("execution file %s: not a regular file of at most %d bytes", path, RUN_FILE_MAX);
		close(fd);
		return -1;
	}
	buf = xcalloc((size_t)st.st_size + 1, 1);
	while (off < (size_t)st.st_size && (n = read(fd, buf + off, (size_t)st.st_size - off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			msg("reading execution file %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	close(fd);

	rf->stop_timeout = 10;
	ps.p = buf;
	ps.end = buf + off;
	ps.file = path;
	if (each_member(&ps, top_member, rf) < 0 || (skip_ws(&ps), ps.p != ps.end)) {
		int line = 1;
		for (const char *q = buf; q < ps.p && q < ps.end; q++)
			line += *q == '\n';
		msg("execution file %s:%d: %s", path, line, ps.err[0] ? ps.err : "trailing data");
		return -1;
	}
	free(buf);
	if (rf->napps == 0) {
		msg("execution file %s lists no apps", path);
		return -1;
	}
	for (size_t i = 0; i < rf->napps; i++) {
		struct app *a = &rf->apps[i];
		if (a->nargs == 0 || !a->args[0][0]) {
			msg("execution file %s: app %zu has no args", path, i + 1);
			return -1;
		}
		if (!a->name) {
			const char *b = strrchr(a->args[0], '/');
			a->name = strdup(b ? b + 1 : a->args[0]);
		}
	}
	return 0;
}

/* ---- starting and supervising ---- */

static sigset_t orig_mask;

/* merge_env returns environ with the app's variables added or replaced. */
static char **merge_env(struct app *a)
{
	size_t n = 0;
	char **e;

	while (environ && environ[n])
		n++;
	e = xcalloc(n + a->nenv + 1, sizeof(char *));
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t kl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int replaced = 0;
		for (size_t j = 0; j < a->nenv; j++) {
			if (!strncmp(a->env[j], environ[i], kl) && a->env[j][kl] == '=') {
				replaced = 1;
				break;
			}
		}
		if (!replaced)
			e[len++] = environ[i];
	}
	for (size_t j = 0; j < a->nenv; j++)
		e[len++] = a->env[j];
	e[len] = NULL;
	return e;
}

static int start_app(struct app *a)
{
	int pfd[2];
	int err = 0;
	ssize_t n;
	char **env = merge_env(a);

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		msg("starting %s: pipe: %s", a->name, strerror(errno));
		return -1;
	}
	a->pid = fork();
	if (a->pid < 0) {
		msg("starting %s: fork: %s", a->name, strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (a->pid == 0) {
		close(pfd[0]);
		sigprocmask(SIG_SETMASK, &orig_mask, NULL);
		if (a->cwd && a->cwd[0] && chdir(a->cwd) < 0) {
			err = errno;
			if (write(pfd[1], "c", 1) < 0 || write(pfd[1], &err, sizeof(err)) < 0)
				_exit(EXIT_START_FAILED);
			_exit(EXIT_START_FAILED);
		}
		environ = env;
		execvp(a->args[0], a->args);
		err = errno;
		if (write(pfd[1], "e", 1) < 0 || write(pfd[1], &err, sizeof(err)) < 0)
			_exit(EXIT_START_FAILED);
		_exit(err == ENOENT ? 127 : 126);
	}
	free(env);
	close(pfd[1]);
	char what = 0;
	do
		n = read(pfd[0], &what, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1) {
		do
			n = read(pfd[0], &err, sizeof(err));
		while (n < 0 && errno == EINTR);
		close(pfd[0]);
		if (what == 'c')
			msg("starting %s: changing to directory %s: %s", a->name, a->cwd, strerror(err));
		else
			msg("starting %s: executing %s: %s", a->name, a->args[0], strerror(err));
		/* the child exits at once; the SIGCHLD loop reaps it */
		a->running = 1;
		return -1;
	}
	close(pfd[0]);
	a->running = 1;
	if (debug)
		msg("started %s (pid %d)", a->name, (int)a->pid);
	return 0;
}

static int exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

static void signal_running(struct runfile *rf, int sig)
{
	for (size_t i = 0; i < rf->napps; i++)
		if (rf->apps[i].running && kill(rf->apps[i].pid, sig) < 0 && errno != ESRCH)
			msg("sending signal %d to %s: %s", sig, rf->apps[i].name, strerror(errno));
}

/*
 * kill_descendants sends SIGKILL to every descendant of pid, found through
 * /proc/PID/task/TID/children. Only used when vmctr-init is not PID 1:
 * in a PID namespace the kernel kills them all when PID 1 exits.
 */
static void kill_descendants(pid_t pid, int depth)
{
	char path[64], buf[4096];
	int fd;
	ssize_t n;
	DIR *d;
	struct dirent *de;

	if (depth > 64)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", (int)pid, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		char *save = NULL;
		for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			pid_t c = (pid_t)atoi(tok);
			if (c <= 0)
				continue;
			kill(c, SIGSTOP); /* no more forks while its own children are found */
			kill_descendants(c, depth + 1);
			kill(c, SIGKILL);
		}
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	struct runfile rf = {0};
	const char *path = argc > 1 ? argv[1] : RUN_FILE_DEFAULT;
	sigset_t all;
	size_t next = 0;
	ssize_t waiting = -1; /* index of a "wait" app that must finish first */
	int stopping = 0, killed = 0, failed = 0, final = 0;
	struct timespec deadline = {0};
	const char *d = getenv("VMCTR_INIT_DEBUG");

	debug = d && d[0] && strcmp(d, "0") != 0;
	if (argc > 2) {
		msg("usage: %s [EXECUTION-FILE]", argv[0]);
		return 2;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &orig_mask);
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (load_runfile(path, &rf) < 0)
		return EXIT_START_FAILED;

	for (;;) {
		/* start what may start now */
		while (!stopping && waiting < 0 && next < rf.napps) {
			struct app *a = &rf.apps[next++];
			if (start_app(a) < 0) {
				if (!failed) {
					failed = 1;
					final = EXIT_START_FAILED;
				}
				stopping = 1;
				break;
			}
			if (a->wait)
				waiting = (ssize_t)(a - rf.apps);
		}
		if (stopping && !deadline.tv_sec) {
			signal_running(&rf, SIGTERM);
			clock_gettime(CLOCK_MONOTONIC, &deadline);
			deadline.tv_sec += rf.stop_timeout;
		}

		int running = 0;
		for (size_t i = 0; i < rf.napps; i++)
			running += rf.apps[i].running;
		if (!running && (stopping || next >= rf.napps))
			break;

		siginfo_t info;
		struct timespec ts, *tsp = NULL;
		if (stopping && !killed) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			ts.tv_sec = deadline.tv_sec - now.tv_sec;
			ts.tv_nsec = deadline.tv_nsec - now.tv_nsec;
			if (ts.tv_nsec < 0) {
				ts.tv_nsec += 1000000000L;
				ts.tv_sec--;
			}
			if (ts.tv_sec < 0)
				ts.tv_sec = ts.tv_nsec = 0;
			tsp = &ts;
		}
		int sig = sigtimedwait(&all, &info, tsp);
		if (sig < 0) {
			if (errno == EAGAIN && stopping && !killed) {
				msg("apps still running %lds after the stop signal; killing them", rf.stop_timeout);
				signal_running(&rf, SIGKILL);
				if (getpid() == 1)
					kill(-1, SIGKILL); /* everything else in this PID namespace */
				else
					kill_descendants(getpid(), 0);
				killed = 1;
			}
			continue;
		}
		if (sig != SIGCHLD) {
			if (debug)
				msg("forwarding signal %d", sig);
			signal_running(&rf, sig);
			if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
				stopping = 1;
				if (!deadline.tv_sec) {
					clock_gettime(CLOCK_MONOTONIC, &deadline);
					deadline.tv_sec += rf.stop_timeout;
				}
			}
			continue;
		}
		for (;;) {
			int st;
			pid_t pid = waitpid(-1, &st, WNOHANG);
			if (pid <= 0)
				break;
			for (size_t i = 0; i < rf.napps; i++) {
				struct app *a = &rf.apps[i];
				if (!a->running || a->pid != pid)
					continue;
				a->running = 0;
				a->done = 1;
				a->status = exit_code(st);
				if (debug)
					msg("%s (pid %d) exited with status %d", a->name, (int)pid, a->status);
				if (a->status != 0 && !failed) {
					failed = 1;
					final = a->status;
					if (!stopping)
						msg("%s exited with status %d; stopping the others", a->name, a->status);
					stopping = 1;
				} else if (!failed) {
					final = a->status;
				}
				if (waiting == (ssize_t)i)
					waiting = -1;
			}
		}
	}
	/* Leftovers of the apps die with the container, as they would in a
	 * PID namespace. */
	if (getpid() != 1)
		kill_descendants(getpid(), 0);
	return final;
}
