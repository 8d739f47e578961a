/* daemon: the service around ingest — the single-instance lock, signals,
 * the systemd notify protocol (READY, STATUS, WATCHDOG only on progress,
 * RELOADING on SIGHUP, STOPPING), IDLE between polls, reconnects with
 * backoff and jitter, logging of every event, and the translation of
 * errors into exit codes. */
#pragma once
#include <stdbool.h>

#include "config.h"

/* Exit codes of puljed (documented in puljed(8), EXIT STATUS). */
enum daemon_exit {
	DAEMON_EXIT_OK = 0,
	DAEMON_EXIT_FAILURE = 1, /* database, lock, anything else */
	DAEMON_EXIT_CONFIG = 2,  /* bad configuration or usage */
	DAEMON_EXIT_NETWORK = 3, /* connection, timeout, protocol, mailbox */
	DAEMON_EXIT_TLS = 4,     /* certificate refused, TLS/STARTTLS failure */
	DAEMON_EXIT_AUTH = 5,    /* login refused */
};

/* Runs one cycle (ONCE) or serves until SIGTERM/SIGINT.  *CFG (loaded from
 * PATH) is owned by the daemon: SIGHUP may replace it.  Returns an exit
 * code. */
int daemon_run(const char *path, struct config **cfg, bool once);

/* [receipts] with send = yes: the template's placeholders and the signing
 * certificate and key (they must load and match), checked before any
 * network traffic (at start, reload and --check-config).  0, or -EINVAL
 * and *ret_error "PATH: [receipts] KEY: reason". */
int daemon_check_receipts(const struct config *cfg, char **ret_error);
