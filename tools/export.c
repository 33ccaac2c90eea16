// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace export: the model for Prometheus, served on /metrics by
 * libmicrohttpd, or written for node_exporter's textfile collector.
 *
 * Each scrape reads the maps at that moment (no interval lag) and renders
 * its own body, under one lock that the ring buffer's livelock reports also
 * take: concurrent scrapes get whole, consistent bodies. libmicrohttpd's
 * polling threads do non-blocking I/O, so a slow or stalled client holds
 * only its own connection, until the connection timeout closes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#ifdef HMMTRACE_HTTP
#include <microhttpd.h>
#endif

#include "clock.h"
#include "export.h"
#include "replace_file.h"
#include "hmmtrace.skel.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define HTTP_THREADS 2
#define HTTP_CONNECTIONS 64
#define HTTP_TIMEOUT_SECONDS 10

static pthread_mutex_t model_lock = PTHREAD_MUTEX_INITIALIZER;

/* One scrape: read the maps and render, into a malloc'ed body. */
static char *scrape(struct model_reader *reader, size_t *length)
{
	struct model model;
	char *body = NULL;
	FILE *output;
	int status;

	output = open_memstream(&body, length);
	if (!output)
		return NULL;
	pthread_mutex_lock(&model_lock);
	status = model_read(reader, 0, &model);
	if (!status)
		prometheus_write(output, &model);
	pthread_mutex_unlock(&model_lock);
	if (fclose(output) || status) {
		if (status)
			fprintf(stderr, "hmmtrace: reading the BPF maps failed: %s\n",
				strerror(-status));
		free(body);
		return NULL;
	}
	return body;
}

/* Livelock reports come from the main thread's ring buffer poll. */
static int handle_report(void *context, void *record, size_t size)
{
	int status;

	pthread_mutex_lock(&model_lock);
	status = retries_handle_report(context, record, size);
	pthread_mutex_unlock(&model_lock);
	return status;
}

#ifdef HMMTRACE_HTTP
/* "ADDR:PORT", "[ADDR6]:PORT" or ":PORT" (every address); PORT is 1 to 65535. */
static int parse_listen(const char *text, char *host, size_t host_size, char *port,
			size_t port_size)
{
	const char *colon = strrchr(text, ':');
	size_t host_length;
	char *end;
	long number;

	if (!colon || !colon[1] || strlen(colon + 1) >= port_size)
		return -EINVAL;
	number = strtol(colon + 1, &end, 10);
	if (*end || number < 1 || number > 65535)
		return -EINVAL;
	host_length = colon - text;
	if (host_length >= 2 && text[0] == '[' && text[host_length - 1] == ']') {
		text++;
		host_length -= 2;
	}
	if (host_length >= host_size)
		return -EINVAL;
	memcpy(host, text, host_length);
	host[host_length] = '\0';
	snprintf(port, port_size, "%s", colon + 1);
	return 0;
}

int export_listen_socket(const char *address)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *results, *result;
	char host[256], port[16];
	int status, error = 0, one = 1;

	if (parse_listen(address, host, sizeof(host), port, sizeof(port))) {
		fprintf(stderr, "hmmtrace: --listen takes ADDRESS:PORT, not %s (see hmmtrace --help)\n",
			address);
		return -EXIT_USAGE;
	}
	status = getaddrinfo(host[0] ? host : NULL, port, &hints, &results);
	if (status) {
		fprintf(stderr, "hmmtrace: --listen %s: %s (see hmmtrace --help)\n", address,
			gai_strerror(status));
		return -EXIT_USAGE;
	}
	for (result = results; result; result = result->ai_next) {
		int fd = socket(result->ai_family, result->ai_socktype | SOCK_CLOEXEC,
				result->ai_protocol);

		if (fd < 0) {
			error = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, result->ai_addr, result->ai_addrlen) && !listen(fd, 64)) {
			freeaddrinfo(results);
			return fd;
		}
		error = errno;
		close(fd);
	}
	freeaddrinfo(results);
	fprintf(stderr, "hmmtrace: cannot listen on %s: %s\n", address, strerror(error));
	return -EXIT_CANNOT_LISTEN;
}
#else
int export_listen_socket(const char *address)
{
	fprintf(stderr, "hmmtrace: cannot listen on %s: built without libmicrohttpd\n", address);
	return -EXIT_CANNOT_LISTEN;
}
#endif

int export_check_textfile(const char *path)
{
	char temporary[REPLACE_FILE_TEMPORARY_SIZE];
	int status = replace_file_check(path, temporary);

	if (status) {
		fprintf(stderr, "hmmtrace: cannot write %s: %s\n", temporary, strerror(-status));
		return -EXIT_CANNOT_WRITE;
	}
	return 0;
}

/* node_exporter reads *.prom files whole: written beside, then renamed over. */
static int write_textfile(struct model_reader *reader, const char *path)
{
	char temporary[REPLACE_FILE_TEMPORARY_SIZE];
	size_t length;
	char *body = scrape(reader, &length);
	FILE *file;
	int status;

	if (!body)
		return EXIT_FAILURE_AT_RUN;
	file = replace_file_begin(path, 0644, temporary);
	status = replace_file_finish(file, temporary, path,
				     file && fwrite(body, 1, length, file) == length);
	free(body);
	if (status) {
		fprintf(stderr, "hmmtrace: cannot write %s: %s\n", path, strerror(-status));
		return EXIT_CANNOT_WRITE;
	}
	return EXIT_OK;
}

#ifdef HMMTRACE_HTTP
static enum MHD_Result respond(struct MHD_Connection *connection, unsigned int code,
			       const char *type, char *body, size_t length,
			       enum MHD_ResponseMemoryMode memory)
{
	struct MHD_Response *response =
		MHD_create_response_from_buffer(length, body, memory);
	enum MHD_Result result;

	if (!response) {
		if (memory == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	result = MHD_queue_response(connection, code, response);
	MHD_destroy_response(response);
	return result;
}

static enum MHD_Result handle_request(void *context, struct MHD_Connection *connection,
				      const char *url, const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **connection_state)
{
	static char index_page[] = "hmmtrace exporter: metrics at /metrics\n";
	static char not_found[] = "not found: metrics are at /metrics\n";
	static char not_allowed[] = "only GET and HEAD\n";
	static char failed[] = "reading the BPF maps failed: see the exporter's log\n";
	static int first_call;
	size_t length;
	char *body;

	(void)version;
	(void)upload_data;
	/* The first call only announces the request; answer on the second. */
	if (*connection_state != &first_call) {
		*connection_state = &first_call;
		return MHD_YES;
	}
	if (*upload_data_size)
		return MHD_NO;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return respond(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", not_allowed,
			       strlen(not_allowed), MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/"))
		return respond(connection, MHD_HTTP_OK, "text/plain", index_page,
			       strlen(index_page), MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return respond(connection, MHD_HTTP_NOT_FOUND, "text/plain", not_found,
			       strlen(not_found), MHD_RESPMEM_PERSISTENT);
	body = scrape(context, &length);
	if (!body)
		return respond(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", failed,
			       strlen(failed), MHD_RESPMEM_PERSISTENT);
	return respond(connection, MHD_HTTP_OK, CONTENT_TYPE, body, length, MHD_RESPMEM_MUST_FREE);
}

static struct MHD_Daemon *start_server(struct model_reader *reader, int listen_fd)
{
	return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
				0, NULL, NULL, handle_request, reader,
				MHD_OPTION_LISTEN_SOCKET, listen_fd,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)HTTP_THREADS,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_SECONDS,
				MHD_OPTION_END);
}

static void stop_server(struct MHD_Daemon *server)
{
	MHD_stop_daemon(server);
}
#else
struct MHD_Daemon;

static struct MHD_Daemon *start_server(struct model_reader *reader, int listen_fd)
{
	(void)reader;
	(void)listen_fd;
	return NULL;
}

static void stop_server(struct MHD_Daemon *server)
{
	(void)server;
}
#endif

int export_run(struct model_reader *reader, int listen_fd, volatile sig_atomic_t *exiting)
{
	struct ring_buffer *ring;
	struct MHD_Daemon *server = NULL;
	double started = monotonic_seconds(), next_write = started + options.interval;
	int status = EXIT_OK, polled = 0;

	reader->export.start_time = (double)time(NULL);

	ring = ring_buffer__new(bpf_map__fd(reader->session->skeleton->maps.reports),
				handle_report, reader, NULL);
	if (!ring) {
		fprintf(stderr, "hmmtrace: cannot open the ring buffer: %s\n", strerror(errno));
		return EXIT_BPF_FAILED;
	}
	if (listen_fd >= 0) {
		server = start_server(reader, listen_fd);
		if (!server) {
			fprintf(stderr, "hmmtrace: cannot start the HTTP server on %s\n",
				options.listen);
			ring_buffer__free(ring);
			return EXIT_CANNOT_LISTEN;
		}
	} else {
		status = write_textfile(reader, options.textfile);
	}
	while (!*exiting && status == EXIT_OK && polled >= 0) {
		polled = ring_buffer__poll(ring, 100);
		if (polled == -EINTR)
			polled = 0;
		if (!server && monotonic_seconds() >= next_write) {
			status = write_textfile(reader, options.textfile);
			next_write += options.interval;
		}
		if (options.duration > 0 && monotonic_seconds() >= started + options.duration)
			break;
	}
	if (polled < 0) {
		fprintf(stderr, "hmmtrace: reading the ring buffer failed: %s\n", strerror(-polled));
		status = EXIT_FAILURE_AT_RUN;
	}
	if (server)
		stop_server(server);
	ring_buffer__free(ring);
	return status;
}
