/* file: a new file never replaces one and never follows a link; every
 * byte is written, whatever write() takes at a time. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static char *read_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	g_assert_cmpint(n, >=, 0);
	close(fd);
	return g_strndup(buf, (gsize)n);
}

static void write_at(int dirfd, const char *name, const char *text)
{
	int fd = file_create_new(dirfd, name, 0640);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(file_write_all(fd, text, strlen(text)), ==, 0);
	g_assert_cmpint(close(fd), ==, 0);
}

/* An existing file is refused, and stays as it was. */
static void test_exists_refused(void)
{
	g_autofree char *dir = g_dir_make_tmp("file-XXXXXX", NULL);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	write_at(dirfd, "a.pdf", "first");
	g_assert_cmpint(file_create_new(dirfd, "a.pdf", 0640), ==, -EEXIST);
	g_autofree char *text = read_at(dirfd, "a.pdf");
	g_assert_cmpstr(text, ==, "first");

	/* The unique variant takes the next free name. */
	g_autofree char *used = NULL;
	int fd = file_create_unique(dirfd, "a.pdf", 0640, &used);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	g_assert_cmpstr(used, ==, "a (2).pdf");
	g_autofree char *used3 = NULL;
	g_assert_cmpint(file_write_new(dirfd, "a.pdf", 0640, "third", 5, &used3), ==, 0);
	g_assert_cmpstr(used3, ==, "a (3).pdf");
	g_autofree char *third = read_at(dirfd, "a (3).pdf");
	g_assert_cmpstr(third, ==, "third");
	g_autofree char *first = read_at(dirfd, "a.pdf");
	g_assert_cmpstr(first, ==, "first");
	unlinkat(dirfd, "a.pdf", 0);
	unlinkat(dirfd, "a (2).pdf", 0);
	unlinkat(dirfd, "a (3).pdf", 0);
	close(dirfd);
	g_rmdir(dir);
}

/* A link in the directory, to a file or to nowhere, is not followed:
 * the target is neither written nor created. */
/* The exclusive writer: a new file with every byte, or nothing changed. */
static void test_write_exclusive(void)
{
	g_autofree char *dir = g_dir_make_tmp("file-XXXXXX", NULL);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g_assert_cmpint(file_write_exclusive(dirfd, "liste.html", 0640, "first", 5), ==, 0);
	g_assert_cmpint(file_write_exclusive(dirfd, "liste.html", 0640, "second", 6), ==, -EEXIST);
	g_autofree char *text = read_at(dirfd, "liste.html");
	g_assert_cmpstr(text, ==, "first");
	/* Not through a link, dangling or not; the target is not made. */
	g_assert_cmpint(symlinkat("target.csv", dirfd, "link.csv"), ==, 0);
	g_assert_cmpint(file_write_exclusive(dirfd, "link.csv", 0640, "x", 1), ==, -EEXIST);
	g_assert_cmpint(faccessat(dirfd, "target.csv", F_OK, 0), <, 0);
	unlinkat(dirfd, "liste.html", 0);
	unlinkat(dirfd, "link.csv", 0);
	close(dirfd);
	g_rmdir(dir);
}

static void test_symlink_not_followed(void)
{
	g_autofree char *dir = g_dir_make_tmp("file-XXXXXX", NULL);
	g_autofree char *outside = g_dir_make_tmp("file-outside-XXXXXX", NULL);
	g_autofree char *victim = g_build_filename(outside, "victim", NULL);
	g_autofree char *nowhere = g_build_filename(outside, "nowhere", NULL);
	g_assert_true(g_file_set_contents(victim, "keep", 4, NULL));
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g_assert_cmpint(symlinkat(victim, dirfd, "to-file"), ==, 0);
	g_assert_cmpint(symlinkat(nowhere, dirfd, "dangling"), ==, 0);

	g_assert_cmpint(file_create_new(dirfd, "to-file", 0640), ==, -EEXIST);
	g_assert_cmpint(file_create_new(dirfd, "dangling", 0640), ==, -EEXIST);
	g_autofree char *kept = NULL;
	g_assert_true(g_file_get_contents(victim, &kept, NULL, NULL));
	g_assert_cmpstr(kept, ==, "keep");
	g_assert_false(g_file_test(nowhere, G_FILE_TEST_EXISTS));

	/* The unique variant writes beside the link, never through it. */
	g_autofree char *used = NULL;
	g_assert_cmpint(file_write_new(dirfd, "dangling", 0640, "new", 3, &used), ==, 0);
	g_assert_cmpstr(used, ==, "dangling (2)");
	g_assert_false(g_file_test(nowhere, G_FILE_TEST_EXISTS));

	unlinkat(dirfd, "to-file", 0);
	unlinkat(dirfd, "dangling", 0);
	unlinkat(dirfd, "dangling (2)", 0);
	close(dirfd);
	g_unlink(victim);
	g_rmdir(outside);
	g_rmdir(dir);
}

/* ---- short writes ---- */

#define BIG (1024 * 1024)

struct reader {
	int fd;
	pthread_t writer;
	GByteArray *got;
};

static void on_signal(int sig)
{
	(void)sig;
}

/* Lets the writer fill the pipe and block, interrupts it (a write that
 * moved some bytes then returns short), then reads everything. */
static void *reader_run(void *p)
{
	struct reader *r = p;
	g_usleep(100 * 1000);
	pthread_kill(r->writer, SIGUSR1);
	g_usleep(50 * 1000);
	pthread_kill(r->writer, SIGUSR1); /* maybe before any byte: EINTR */
	char buf[65536];
	ssize_t n;
	while ((n = read(r->fd, buf, sizeof(buf))) > 0)
		g_byte_array_append(r->got, (guint8 *)buf, (guint)n);
	return NULL;
}

static void test_short_writes_loop(void)
{
	struct sigaction sa = { .sa_handler = on_signal }, old; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	g_assert_cmpint(sigaction(SIGUSR1, &sa, &old), ==, 0);
	int p[2];
	g_assert_cmpint(pipe(p), ==, 0);
	g_autofree guint8 *data = g_malloc(BIG);
	for (size_t i = 0; i < BIG; i++)
		data[i] = (guint8)(i * 7 + i / 251);
	struct reader r = { p[0], pthread_self(), g_byte_array_new() };
	pthread_t t;
	g_assert_cmpint(pthread_create(&t, NULL, reader_run, &r), ==, 0);
	g_assert_cmpint(file_write_all(p[1], data, BIG), ==, 0);
	close(p[1]);
	pthread_join(t, NULL);
	close(p[0]);
	sigaction(SIGUSR1, &old, NULL);
	g_assert_cmpuint(r.got->len, ==, BIG);
	g_assert_true(memcmp(r.got->data, data, BIG) == 0);
	g_byte_array_unref(r.got);
}

/* A failing write is reported as its errno. */
static void test_write_error(void)
{
	int p[2];
	g_assert_cmpint(pipe(p), ==, 0);
	g_assert_cmpint(file_write_all(p[0], "x", 1), ==, -EBADF); /* the read end */
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/file/exists-refused", test_exists_refused);
	g_test_add_func("/file/symlink-not-followed", test_symlink_not_followed);
	g_test_add_func("/file/write-exclusive", test_write_exclusive);
	g_test_add_func("/file/short-writes-loop", test_short_writes_loop);
	g_test_add_func("/file/write-error", test_write_error);
	return g_test_run();
}
