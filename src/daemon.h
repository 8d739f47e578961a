/* daemon: the service loop around ingest — the single-instance lock,
 * signals, readiness and status for systemd, logging of every event, and
 * the translation of errors into exit codes. */
#pragma once
#include <stdbool.h>

#include "config.h"

/* Exit codes of puljed (documented in the README). */
enum daemon_exit {
	DAEMON_EXIT_OK = 0,
	DAEMON_EXIT_FAILURE = 1,    /* database, lock, anything else */
	DAEMON_EXIT_CONFIG = 2,     /* bad configuration or usage */
	DAEMON_EXIT_NETWORK = 3,    /* connection, timeout, protocol, mailbox */
	DAEMON_EXIT_TLS = 4,        /* certificate refused, TLS/STARTTLS failure */
	DAEMON_EXIT_AUTH = 5,       /* login refused */
};

/* Runs one cycle (ONCE) or polls until SIGTERM/SIGINT.  Returns an exit
 * code. */
int daemon_run(const struct config *cfg, bool once);
