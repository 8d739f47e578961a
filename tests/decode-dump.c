/* decode-dump: what puljed's MIME walk makes of one message, for the
 * differential decoding test (tests/test_decode.py).
 *
 *     decode-dump MESSAGE OUTDIR
 *
 * Parses MESSAGE as the daemon does (mime_parse_fd, from the file), and
 * again from memory (mime_parse): the two must agree (exit 3 if not).
 * Writes each attachment's decoded bytes to OUTDIR/N (N from 1, in walk
 * order) and prints one JSON object: the message's flags and, per
 * attachment, its part path, file name, content type, size and SHA-256;
 * per part note, its path and action. */
#include "mime.h"

#include <fcntl.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: decode-dump MESSAGE OUTDIR\n");
		return 2;
	}
	g_autofree char *raw = NULL;
	gsize len = 0;
	g_autoptr(GError) err = NULL;
	if (!g_file_get_contents(argv[1], &raw, &len, &err)) {
		fprintf(stderr, "decode-dump: %s\n", err->message);
		return 1;
	}
	GByteArray *arr = g_byte_array_new_take((guint8 *)g_steal_pointer(&raw), len);
	static const struct mime_limits limits = { .max_depth = 32, .max_parts = 1000 };
	struct mime_message *m = NULL, *mem = NULL;
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || mime_parse_fd(fd, &limits, &m) != 0) {
		perror("decode-dump");
		return 1;
	}
	close(fd);
	mime_parse(arr, &limits, &mem);
	bool same = m->flags == mem->flags && m->n_attachments == mem->n_attachments;
	for (size_t i = 0; same && i < m->n_attachments; i++)
		same = !strcmp(m->attachments[i].sha256, mem->attachments[i].sha256);
	mime_message_free(mem);
	if (!same) {
		fprintf(stderr, "decode-dump: %s: parsed from the file and from memory, the results differ\n", argv[1]);
		return 3;
	}

	g_autoptr(JsonBuilder) b = json_builder_new();
	json_builder_begin_object(b);
	g_autofree char *flags = mime_flags_describe(m->flags);
	json_builder_set_member_name(b, "flags");
	json_builder_add_string_value(b, flags ? flags : "");
	json_builder_set_member_name(b, "attachments");
	json_builder_begin_array(b);
	for (size_t i = 0; i < m->n_attachments; i++) {
		const struct mime_attachment *a = &m->attachments[i];
		g_autofree char *name = g_strdup_printf("%zu", i + 1);
		g_autofree char *file = g_build_filename(argv[2], name, NULL);
		if (!g_file_set_contents(file, (const char *)a->data, (gssize)a->size, &err)) {
			fprintf(stderr, "decode-dump: %s\n", err->message);
			return 1;
		}
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "file");
		json_builder_add_string_value(b, name);
		json_builder_set_member_name(b, "part");
		json_builder_add_string_value(b, a->part_path);
		json_builder_set_member_name(b, "filename");
		if (a->filename)
			json_builder_add_string_value(b, a->filename);
		else
			json_builder_add_null_value(b);
		json_builder_set_member_name(b, "content_type");
		json_builder_add_string_value(b, a->content_type);
		json_builder_set_member_name(b, "size");
		json_builder_add_int_value(b, (gint64)a->size);
		json_builder_set_member_name(b, "sha256");
		json_builder_add_string_value(b, a->sha256);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "parts");
	json_builder_begin_array(b);
	for (size_t i = 0; i < m->n_notes; i++) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "part");
		json_builder_add_string_value(b, m->notes[i].part_path);
		json_builder_set_member_name(b, "action");
		json_builder_add_string_value(b, m->notes[i].action);
		json_builder_set_member_name(b, "content_type");
		json_builder_add_string_value(b, m->notes[i].content_type);
		json_builder_set_member_name(b, "size");
		json_builder_add_int_value(b, (gint64)m->notes[i].size);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	json_generator_set_pretty(gen, TRUE);
	g_autofree char *text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
	mime_message_free(m);
	g_byte_array_free(arr, TRUE);
	return 0;
}
