#include "account.h"

void account_imap_options(const struct config *cfg, const char *secret, atomic_int *cancel, struct imap_options *o)
{
	const struct config_imap *c = &cfg->imap;
	*o = (struct imap_options){
		.host = c->host,
		.port = c->port,
		.starttls = c->security == CONFIG_SECURITY_STARTTLS,
		.ca_file = c->ca_file,
		.tls_priority = c->tls_priority,
		.username = c->username,
		.auth = c->auth == CONFIG_AUTH_XOAUTH2 ? IMAP_AUTH_XOAUTH2
			: c->auth == CONFIG_AUTH_PLAIN ? IMAP_AUTH_PLAIN
						       : IMAP_AUTH_LOGIN,
		.password = secret,
		.timeout = c->timeout,
		.command_time = cfg->limits.max_message_time,
		.cancel = cancel,
	};
}

int account_connect(const struct config *cfg, enum account_open how, atomic_int *cancel, struct imap **ret_im,
		    struct imap_mailbox *ret_box, char **ret_error)
{
	char *secret = NULL;
	/* The password (or OAuth2 access token, which its helper rewrites
	 * before it expires) is read afresh at every connect and wiped once
	 * the login is over: between connects no copy is in memory. */
	if (config_read_password(cfg, &secret, ret_error) < 0)
		return ACCOUNT_E_SECRET;
	struct imap_options o;
	account_imap_options(cfg, secret, cancel, &o);
	g_autoptr(Imap) im = NULL;
	int r = imap_connect(&o, &im, ret_error);
	config_password_free(secret);
	if (r != IMAP_OK)
		return r;
	struct imap_mailbox box;
	r = how == ACCOUNT_EXAMINE ? imap_examine(im, cfg->imap.mailbox, &box)
				   : imap_select(im, cfg->imap.mailbox, &box);
	if (r != IMAP_OK) {
		*ret_error = g_strdup(imap_errmsg(im));
		return r;
	}
	*ret_im = g_steal_pointer(&im);
	*ret_box = box;
	return IMAP_OK;
}
