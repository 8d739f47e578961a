/* Test driver for the smtp module: sends one message file.
 *
 *   smtp-send HOST PORT starttls|tls CA_FILE|- USERNAME|- PASSWORD_FILE|- none|plain|login|xoauth2
 *             FROM TO FILE
 *
 * "-" means none (CA_FILE: the system trust store).  SMTP_SEND_TIMEOUT_MS
 * (default 10000) is the timeout; SMTP_SEND_COUNT (default 1) sends the
 * file that many times on one session, stopping at the first failure.
 * SIGTERM sets the cancel flag, as the daemon's handler does.
 * Prints one line, "RESULT_NAME code=N: errmsg", and exits 0 only on SMTP_OK. */
#include "smtp.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

static const char *result_name(int r)
{
	switch (r) {
	case SMTP_OK:
		return "SMTP_OK";
	case SMTP_E_CONNECT:
		return "SMTP_E_CONNECT";
	case SMTP_E_TIMEOUT:
		return "SMTP_E_TIMEOUT";
	case SMTP_E_TLS:
		return "SMTP_E_TLS";
	case SMTP_E_CERTIFICATE:
		return "SMTP_E_CERTIFICATE";
	case SMTP_E_PROTOCOL:
		return "SMTP_E_PROTOCOL";
	case SMTP_E_AUTH:
		return "SMTP_E_AUTH";
	case SMTP_E_TEMPORARY:
		return "SMTP_E_TEMPORARY";
	case SMTP_E_PERMANENT:
		return "SMTP_E_PERMANENT";
	case SMTP_E_NETWORK:
		return "SMTP_E_NETWORK";
	case SMTP_E_CANCELLED:
		return "SMTP_E_CANCELLED";
	default:
		return "SMTP_E_UNKNOWN";
	}
}

static atomic_int cancelled;

static void on_term(int sig)
{
	(void)sig;
	cancelled = 1;
}

static const char *opt(const char *s)
{
	return strcmp(s, "-") == 0 ? NULL : s;
}

int main(int argc, char **argv)
{
	if (argc != 11) {
		fprintf(stderr,
			"usage: %s HOST PORT starttls|tls CA_FILE USERNAME PASSWORD_FILE none|plain|login|xoauth2 "
			"FROM TO FILE\n",
			argv[0]);
		return 2;
	}
	struct smtp_settings s = {
		.host = argv[1],
		.port = (uint16_t)atoi(argv[2]),
		.security = strcmp(argv[3], "tls") == 0 ? SMTP_TLS : SMTP_STARTTLS,
		.ca_file = opt(argv[4]),
		.username = opt(argv[5]),
		.timeout_ms = 10000,
		.helo = "puljed.test",
		.cancel = &cancelled,
	};
	/* No SA_RESTART: a wait ends with EINTR and the flag is seen. */
	struct sigaction sa = { .sa_handler = on_term };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	const char *t = getenv("SMTP_SEND_TIMEOUT_MS");
	if (t)
		s.timeout_ms = atoi(t);
	const char *auth = argv[7];
	s.auth = strcmp(auth, "plain") == 0     ? SMTP_AUTH_PLAIN
		 : strcmp(auth, "login") == 0   ? SMTP_AUTH_LOGIN
		 : strcmp(auth, "xoauth2") == 0 ? SMTP_AUTH_XOAUTH2
						: SMTP_AUTH_NONE;
	g_autofree char *secret = NULL;
	g_autoptr(GError) e = NULL;
	if (opt(argv[6])) {
		if (!g_file_get_contents(argv[6], &secret, NULL, &e)) {
			fprintf(stderr, "%s\n", e->message);
			return 2;
		}
		g_strchomp(secret);
		s.secret = secret;
	}
	g_autofree char *msg = NULL;
	gsize len = 0;
	if (!g_file_get_contents(argv[10], &msg, &len, &e)) {
		fprintf(stderr, "%s\n", e->message);
		return 2;
	}
	const char *count_s = getenv("SMTP_SEND_COUNT");
	int count = count_s ? atoi(count_s) : 1;

	g_autoptr(Smtp) c = NULL;
	g_autofree char *why = NULL;
	int r = smtp_open(&s, &c, &why);
	if (r != SMTP_OK) {
		printf("%s code=0: %s\n", result_name(r), why);
		return 1;
	}
	for (int i = 0; i < count && r == SMTP_OK; i++)
		r = smtp_send(c, argv[8], argv[9], msg, len);
	printf("%s code=%d: %s\n", result_name(r), smtp_last_code(c), smtp_errmsg(c));
	printf("usable=%s\n", smtp_usable(c) ? "yes" : "no");
	return r == SMTP_OK ? 0 : 1;
}
