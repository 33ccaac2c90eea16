/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hmmtrace export (export.c): Prometheus' /metrics over HTTP, or
 * node_exporter's textfile collector. The checks run before attaching, so
 * a port in use or an unwritable file costs no BPF work.
 */
#ifndef HMMTRACE_EXPORT_H
#define HMMTRACE_EXPORT_H

#include <signal.h>

#include "model_read.h"

#define EXPORT_DEFAULT_LISTEN "0.0.0.0:9476"

/* A listening socket on --listen, or minus the exit status, having said why. */
int export_listen_socket(const char *address);
/* 0 if --textfile's directory takes a file, or minus the exit status. */
int export_check_textfile(const char *path);
/* Serve on LISTEN_FD (or write the textfile when it is negative) until *EXITING. */
int export_run(struct model_reader *reader, int listen_fd, volatile sig_atomic_t *exiting);

#endif /* HMMTRACE_EXPORT_H */
