/* ledger: the list of received applications an authority publishes during
 * a call (puljectl ledger) — pure rendering of rows the caller fills, as
 * a self-contained Danish HTML page and as CSV (the conventions of
 * export.h).  Per received message: its reference number
 * (record_reference), the time that decided the deadline in the call's
 * time zone, labelled, on time or not in neutral words, and the first 16
 * hex digits of the SHA-256 of the message.  Nothing else: a row has no
 * field for a name, an address, a subject, a file name or a Message-ID,
 * so none can reach the page.  Strings returned are newly allocated
 * (g_free). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

/* How many hex digits of the SHA-256 the list shows. */
#define LEDGER_HASH_DIGITS 16

/* On time or not, as the list says it (never "approved"). */
enum ledger_verdict {
	LEDGER_ON_TIME,  /* "inden fristen" */
	LEDGER_LATE,     /* "efter fristen" */
	LEDGER_ASSESSED, /* "vurderes": not known, or a person looks (review) */
};

/* Which clock gave a row's time (the record's decided_by). */
enum ledger_clock {
	LEDGER_CLOCK_ARRIVAL,     /* the mailbox's arrival time (INTERNALDATE) */
	LEDGER_CLOCK_EDGE,        /* the authority's mail server (Received:) */
	LEDGER_CLOCK_DATE_HEADER, /* the sender's Date: header (deadline_basis = date-header) */
};

/* Why a row has no hash. */
enum ledger_body {
	LEDGER_BODY_STORED,    /* the message is stored: its hash is shown */
	LEDGER_BODY_TOO_LARGE, /* over max_message_size: recorded without its bytes */
	LEDGER_BODY_GONE,      /* removed from the mailbox before it was fetched */
};

struct ledger_row {
	int64_t id; /* the record: its reference number is record_reference(id) */
	bool has_time;
	int64_t time; /* Unix time that decided the deadline (else the arrival) */
	enum ledger_clock clock;
	enum ledger_verdict verdict;
	const char *sha256; /* hex SHA-256 of the raw message; anything else shows as "—" */
	enum ledger_body body;
	int64_t duplicate_of; /* the record with the same bytes received before, 0 = none */
};

struct ledger_call {
	const char *id;       /* NULL: the rows that belong to no call */
	const char *subject;  /* the call's name, or NULL */
	const char *timezone; /* IANA name; NULL or unknown: Europe/Copenhagen */
	bool has_deadline;
	int64_t deadline; /* the last on-time second (grace included), Unix time */
	const struct ledger_row *rows;
	size_t n_rows;
};

struct ledger {
	int64_t generated;    /* when the list was made ("dannet"), Unix time */
	const char *timezone; /* the zone of "dannet" and of the CSV's times */
	const struct ledger_call *calls;
	size_t n_calls;
};

/* What a status and on_time (1, 0, -1) say in the list: review and
 * unknown are LEDGER_ASSESSED, late (or on_time 0) LEDGER_LATE. */
enum ledger_verdict ledger_verdict(enum rules_status status, int on_time);
/* "inden fristen", "efter fristen", "vurderes" (static). */
const char *ledger_verdict_label(enum ledger_verdict v);
/* "mailserveren", "postkassen", "afsenderens Date-felt" (static). */
const char *ledger_clock_label(enum ledger_clock c);

/* The first LEDGER_HASH_DIGITS digits of SHA256 in lower case, or NULL
 * when SHA256 is not 64 hex digits. */
char *ledger_hash_prefix(const char *sha256);

/* Sorts ROWS by time (rows without one last), then by id: the order of
 * arrival the list is in. */
void ledger_sort(struct ledger_row *rows, size_t n);

/* The page: one section per call, its rows in order of arrival. */
char *ledger_html(const struct ledger *l);

/* The CSV (export.h's conventions: BOM, ';', CRLF, quoting): one header
 * and one record per row, the calls one after the other; its times in
 * L's zone, named in the date column's header, and ISO 8601. */
char *ledger_csv(const struct ledger *l);
