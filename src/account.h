/* account: the configured mailbox account, logged in.  From the [imap]
 * and [limits] settings and the secret (read at connect, wiped once the
 * login is over), a session with the mailbox open: what ingest and
 * puljectl reconcile both start from.  No logging.
 * Errors: an enum imap_error, or ACCOUNT_E_SECRET; the reason in
 * *ret_error (never the secret). */
#pragma once
#include <stdatomic.h>

#include "config.h"
#include "imap.h"

enum account_error {
	ACCOUNT_E_SECRET = -100, /* the password or token could not be read */
};

enum account_open {
	ACCOUNT_EXAMINE, /* read-only */
	ACCOUNT_SELECT,  /* for the after-ingest actions */
};

/* The connection settings of CFG's [imap] group, with SECRET (password
 * or token, borrowed) and CANCEL (may be NULL). */
void account_imap_options(const struct config *cfg, const char *secret, atomic_int *cancel, struct imap_options *o);

/* Reads the secret, connects, logs in and opens CFG's mailbox as HOW
 * asks; CANCEL (may be NULL) set by a signal handler ends any wait.
 * Returns IMAP_OK with the session in *RET_IM and the mailbox's state in
 * *RET_BOX, or an IMAP_E_* code or ACCOUNT_E_SECRET with *RET_ERROR set
 * (g_free) and the out-parameters untouched. */
int account_connect(const struct config *cfg, enum account_open how, atomic_int *cancel, struct imap **ret_im,
		    struct imap_mailbox *ret_box, char **ret_error);
