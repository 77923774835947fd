/*
 * mapi-responder: the benchmark's MAPI/HTTP backend. A single-threaded epoll HTTP/1.1 server that
 * answers every POST the way an Exchange mailbox server streams a MAPI response, with none of the
 * simulator's bookkeeping (mapigate-sim records every request and write for the tests and
 * enforces session cookies and sequence numbers, which a load generator cannot follow):
 *
 *   X-RequestType: NotificationWait   head + "PROCESSING" chunk at once, then a "PENDING" chunk
 *                                     every --pending-period ms (or the request's
 *                                     X-Bench-PendingPeriod), "DONE" after --wait ms;
 *   anything else (Execute, ...)      head + "PROCESSING" chunk + "DONE" meta chunk + a body
 *                                     chunk of --body-bytes, terminating chunk; one write.
 *
 * Keep-alive unless the request says "Connection: close". Request bodies (Content-Length or
 * chunked) are read and discarded; the answer starts once the whole request is in.
 *
 *   GET /__stats                 JSON counters: open connections, requests, NotificationWaits
 *                                held open right now, and those whose client (the proxy) left.
 *   GET /mapi/healthcheck.htm    200 "200 OK<br/>" + name.
 *
 * Build: cc -O2 -o mapi-responder mapi-responder.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_HEAD, ST_BODY, ST_CHUNKED, ST_WAIT };
enum { R_MAPI = 1, R_WAIT, R_HEALTH, R_STATS };

struct conn {
  int fd;
  int state;
  char *in;
  size_t in_len, in_cap;
  char *out;
  size_t out_len, out_off, out_cap;
  long long body_left;
  int reply;         /* R_*: what to answer once the request body is in */
  char type[64];
  int close_after;   /* close once out is flushed */
  int want_out;      /* EPOLLOUT registered */
  /* NotificationWait */
  long long next_pending_ms, done_at_ms;
  long period_ms; /* this request's PENDING period */
  char req_id[128], client_info[128];
};

static struct conn **conns;
static int max_fds;
static int ep;
static const char *name = "bench-mbx";
static long body_bytes = 4096;
static long pending_period = 15000;
static long wait_ms = 300000;
static char *body;

static unsigned long long st_accepted, st_open, st_requests, st_waits_open, st_waits_cancelled,
    st_waits_done;
static long long next_deadline = -1;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *http_date(void) {
  static char buf[64];
  static time_t cached;
  time_t t = time(NULL);
  if (t != cached) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached = t;
  }
  return buf;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void reserve(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return;
  size_t n = *cap ? *cap : 4096;
  while (n < need) n *= 2;
  char *p = realloc(*buf, n);
  if (!p) die("realloc");
  *buf = p;
  *cap = n;
}

static void out_append(struct conn *c, const char *data, size_t len) {
  if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
  reserve(&c->out, &c->out_cap, c->out_len + len);
  memcpy(c->out + c->out_len, data, len);
  c->out_len += len;
}

static void out_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct conn *c, const char *fmt, ...) {
  char tmp[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
  out_append(c, tmp, (size_t)n);
}

static void out_chunk(struct conn *c, const char *data, size_t len) {
  out_printf(c, "%zx\r\n", len);
  out_append(c, data, len);
  out_append(c, "\r\n", 2);
}

static void close_conn(struct conn *c) {
  if (c->state == ST_WAIT) {
    st_waits_open--;
    st_waits_cancelled++;
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  conns[c->fd] = NULL;
  free(c->in);
  free(c->out);
  free(c);
  st_open--;
}

/* Returns -1 when the connection was closed. */
static int flush_out(struct conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c->out_off += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    close_conn(c);
    return -1;
  }
  int pending = c->out_off < c->out_len;
  if (!pending && c->close_after) {
    close_conn(c);
    return -1;
  }
  if (pending != c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (pending ? EPOLLOUT : 0),
                             .data.fd = c->fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = pending;
  }
  return 0;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t len) {
  if (len >= cap) len = cap - 1;
  memcpy(dst, v, len);
  dst[len] = 0;
}

static void mapi_head(struct conn *c, const char *type, const char *close_hdr) {
  out_printf(c,
             "HTTP/1.1 200 OK\r\n"
             "Cache-Control: private\r\n"
             "Content-Type: application/mapi-http\r\n"
             "X-RequestType: %s\r\n"
             "X-RequestId: %s\r\n"
             "X-ClientInfo: %s\r\n"
             "X-ResponseCode: 0\r\n"
             "X-PendingPeriod: %ld\r\n"
             "X-ExpirationInfo: 900000\r\n"
             "X-ServerApplication: Exchange/15.02.1118.007\r\n"
             "X-BEServer: %s\r\n"
             "Date: %s\r\n"
             "Set-Cookie: MapiContext=bench-context; path=/mapi/emsmdb/; HttpOnly\r\n"
             "Set-Cookie: MapiSequence=bench-sequence; path=/mapi/emsmdb/; HttpOnly\r\n"
             "Transfer-Encoding: chunked\r\n"
             "%s"
             "\r\n",
             type, c->req_id, c->client_info, c->period_ms, name, http_date(), close_hdr);
  out_chunk(c, "PROCESSING\r\n", 12);
}

static void done_chunks(struct conn *c, long long elapsed) {
  char meta[256];
  int n = snprintf(meta, sizeof meta, "DONE\r\nX-ElapsedTime: %lld\r\nX-StartTime: %s\r\n\r\n",
                   elapsed, http_date());
  out_chunk(c, meta, (size_t)n);
  if (body_bytes > 0) out_chunk(c, body, (size_t)body_bytes);
  out_append(c, "0\r\n\r\n", 5);
}

static void arm_deadline(long long t) {
  if (next_deadline < 0 || t < next_deadline) next_deadline = t;
}

/* Parses one request head in c->in[0..head_len). Returns 0, or -1 if the connection closed. */
static int handle_head(struct conn *c, size_t head_len) {
  char *p = c->in, *end = c->in + head_len;
  char *line_end = memmem(p, (size_t)(end - p), "\r\n", 2);
  if (!line_end) return close_conn(c), -1;
  int is_get = line_end - p >= 4 && memcmp(p, "GET ", 4) == 0;
  char target[256] = "";
  char *sp = memchr(p, ' ', (size_t)(line_end - p));
  if (sp) {
    char *sp2 = memchr(sp + 1, ' ', (size_t)(line_end - sp - 1));
    if (sp2) copy_value(target, sizeof target, sp + 1, (size_t)(sp2 - sp - 1));
  }
  long long content_length = 0;
  int conn_close = 0, notification_wait = 0, chunked = 0;
  char type[64] = "Execute";
  c->req_id[0] = c->client_info[0] = 0;
  c->period_ms = pending_period;
  for (p = line_end + 2; p < end;) {
    char *le = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!le) le = end;
    char *colon = memchr(p, ':', (size_t)(le - p));
    if (colon) {
      size_t nlen = (size_t)(colon - p);
      char *v = colon + 1;
      while (v < le && (*v == ' ' || *v == '\t')) v++;
      size_t vlen = (size_t)(le - v);
      while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
      if (nlen == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
        content_length = strtoll(v, NULL, 10);
      } else if (nlen == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
        chunked = vlen >= 7 && strncasecmp(v + vlen - 7, "chunked", 7) == 0;
      } else if (nlen == 10 && strncasecmp(p, "Connection", 10) == 0) {
        conn_close = vlen >= 5 && strncasecmp(v, "close", 5) == 0;
      } else if (nlen == 13 && strncasecmp(p, "X-RequestType", 13) == 0) {
        copy_value(type, sizeof type, v, vlen);
        notification_wait = vlen == 16 && strncasecmp(v, "NotificationWait", 16) == 0;
      } else if (nlen == 11 && strncasecmp(p, "X-RequestId", 11) == 0) {
        copy_value(c->req_id, sizeof c->req_id, v, vlen);
      } else if (nlen == 12 && strncasecmp(p, "X-ClientInfo", 12) == 0) {
        copy_value(c->client_info, sizeof c->client_info, v, vlen);
      } else if (nlen == 21 && strncasecmp(p, "X-Bench-PendingPeriod", 21) == 0) {
        c->period_ms = strtol(v, NULL, 10);  /* the benchmark's own: mapiload --pending-period */
      }
    }
    p = le + 2;
  }
  st_requests++;
  c->close_after = conn_close;
  copy_value(c->type, sizeof c->type, type, strlen(type));
  if (is_get) {
    c->reply = strcmp(target, "/__stats") == 0 ? R_STATS : R_HEALTH;
  } else {
    c->reply = notification_wait ? R_WAIT : R_MAPI;
  }
  c->body_left = chunked ? 0 : content_length;
  c->state = chunked ? ST_CHUNKED : ST_BODY;
  return 0;
}

/* The request (head and body) is complete: answer it. */
static void reply(struct conn *c) {
  const char *close_hdr = c->close_after ? "Connection: close\r\n" : "";
  c->state = ST_HEAD;
  if (c->reply == R_STATS || c->reply == R_HEALTH) {
    char text[512];
    int n;
    if (c->reply == R_STATS) {
      n = snprintf(text, sizeof text,
                   "{\"open\":%llu,\"accepted\":%llu,\"requests\":%llu,\"waits_open\":%llu,"
                   "\"waits_cancelled\":%llu,\"waits_done\":%llu}\n",
                   st_open, st_accepted, st_requests, st_waits_open, st_waits_cancelled,
                   st_waits_done);
    } else {
      n = snprintf(text, sizeof text, "200 OK<br/>%s", name);
    }
    out_printf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n",
               n, close_hdr);
    out_append(c, text, (size_t)n);
    return;
  }
  mapi_head(c, c->type, close_hdr);
  if (c->reply == R_WAIT) {
    long long now = now_ms();
    c->state = ST_WAIT;
    c->done_at_ms = now + wait_ms;
    c->next_pending_ms = c->period_ms > 0 ? now + c->period_ms : c->done_at_ms;
    arm_deadline(c->next_pending_ms < c->done_at_ms ? c->next_pending_ms : c->done_at_ms);
    st_waits_open++;
  } else {
    done_chunks(c, 0);
  }
}

/* Consumes buffered input. Returns -1 if the connection was closed. */
static int process(struct conn *c) {
  size_t off = 0;
  for (;;) {
    if (c->state == ST_BODY) {
      size_t avail = c->in_len - off;
      size_t take = (long long)avail < c->body_left ? avail : (size_t)c->body_left;
      off += take;
      c->body_left -= (long long)take;
      if (c->body_left > 0) break;
      reply(c);
      continue;
    }
    if (c->state == ST_CHUNKED) {
      /* body_left: bytes of chunk data (plus its CRLF) still to skip; -1: in the trailer. */
      if (c->body_left > 0) {
        size_t avail = c->in_len - off;
        size_t take = (long long)avail < c->body_left ? avail : (size_t)c->body_left;
        off += take;
        c->body_left -= (long long)take;
        if (c->body_left > 0) break;
        continue;
      }
      char *le = memmem(c->in + off, c->in_len - off, "\r\n", 2);
      if (!le) {
        if (c->in_len - off > 4096) return close_conn(c), -1;
        break;
      }
      size_t line = (size_t)(le - (c->in + off));
      if (c->body_left < 0) { /* trailer lines until an empty one */
        off += line + 2;
        if (line == 0) {
          c->body_left = 0;
          reply(c);
        }
        continue;
      }
      long long size = strtoll(c->in + off, NULL, 16);
      off += line + 2;
      c->body_left = size > 0 ? size + 2 : -1;
      continue;
    }
    if (c->state == ST_WAIT) break; /* pipelined data waits until the long-poll ends */
    char *h = memmem(c->in + off, c->in_len - off, "\r\n\r\n", 4);
    if (!h) {
      if (c->in_len - off > 65536) return close_conn(c), -1;
      break;
    }
    size_t head_len = (size_t)(h - (c->in + off)) + 4;
    /* handle_head reads from c->in: move the head to the front first. */
    if (off) {
      memmove(c->in, c->in + off, c->in_len - off);
      c->in_len -= off;
      off = 0;
    }
    if (handle_head(c, head_len) < 0) return -1;
    off = head_len;
  }
  if (off) {
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
  }
  return flush_out(c);
}

static void on_readable(struct conn *c) {
  for (;;) {
    reserve(&c->in, &c->in_cap, c->in_len + 16384);
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n > 0) {
      c->in_len += (size_t)n;
      if ((size_t)n < 16384) break;
      continue;
    }
    if (n == 0) {
      close_conn(c);
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (errno == EINTR) continue;
    close_conn(c);
    return;
  }
  process(c);
}

static void fire_timers(void) {
  long long now = now_ms();
  next_deadline = -1;
  for (int fd = 0; fd < max_fds; fd++) {
    struct conn *c = conns[fd];
    if (!c || c->state != ST_WAIT) continue;
    if (now >= c->done_at_ms) {
      done_chunks(c, now - (c->done_at_ms - wait_ms));
      c->state = ST_HEAD;
      st_waits_open--;
      st_waits_done++;
      process(c);
      continue;
    }
    if (now >= c->next_pending_ms) {
      out_chunk(c, "PENDING\r\n", 9);
      c->next_pending_ms += c->period_ms;
      if (flush_out(c) < 0) continue;
    }
    arm_deadline(c->next_pending_ms < c->done_at_ms ? c->next_pending_ms : c->done_at_ms);
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: mapi-responder --listen HOST:PORT [--name N] [--body-bytes N]\n"
          "                      [--pending-period MS] [--wait MS]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *listen_at = NULL;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    if (!strcmp(argv[i], "--listen")) listen_at = argv[++i];
    else if (!strcmp(argv[i], "--name")) name = argv[++i];
    else if (!strcmp(argv[i], "--body-bytes")) body_bytes = atol(argv[++i]);
    else if (!strcmp(argv[i], "--pending-period")) pending_period = atol(argv[++i]);
    else if (!strcmp(argv[i], "--wait")) wait_ms = atol(argv[++i]);
    else usage();
  }
  if (!listen_at || body_bytes < 0 || wait_ms <= 0 || pending_period < 0) usage();
  char host[64];
  const char *colon = strrchr(listen_at, ':');
  if (!colon || (size_t)(colon - listen_at) >= sizeof host) usage();
  memcpy(host, listen_at, (size_t)(colon - listen_at));
  host[colon - listen_at] = 0;
  int port = atoi(colon + 1);

  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    max_fds = (int)(rl.rlim_cur > 1048576 ? 1048576 : rl.rlim_cur);
  } else {
    max_fds = 1024;
  }
  conns = calloc((size_t)max_fds, sizeof *conns);
  body = malloc((size_t)body_bytes + 1);
  if (!conns || !body) die("calloc");
  for (long i = 0; i < body_bytes; i++) body[i] = (char)('a' + i % 26);

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) usage();
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
  if (listen(lfd, 4096) < 0) die("listen");

  ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  fprintf(stderr, "mapi-responder: listening on %s (body %ld bytes)\n", listen_at, body_bytes);

  struct epoll_event evs[256];
  for (;;) {
    int timeout = -1;
    if (next_deadline >= 0) {
      long long d = next_deadline - now_ms();
      timeout = d < 0 ? 0 : (int)(d > 1000 ? 1000 : d);
    }
    int n = epoll_wait(ep, evs, 256, timeout);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
          if (cfd < 0) break;
          if (cfd >= max_fds) {
            close(cfd);
            continue;
          }
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *c = calloc(1, sizeof *c);
          if (!c) die("calloc");
          c->fd = cfd;
          conns[cfd] = c;
          struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = cfd};
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
          st_accepted++;
          st_open++;
        }
        continue;
      }
      struct conn *c = conns[fd];
      if (!c) continue;
      if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
        close_conn(c);
        continue;
      }
      if (evs[i].events & EPOLLOUT) {
        if (flush_out(c) < 0) continue;
      }
      if (evs[i].events & (EPOLLIN | EPOLLRDHUP)) on_readable(c);
    }
    if (next_deadline >= 0 && now_ms() >= next_deadline) fire_timers();
  }
}
