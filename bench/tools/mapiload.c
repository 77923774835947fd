/*
 * mapiload: the benchmark's own TLS client, for what wrk and h2load do not measure directly.
 *
 *   mapiload hold    --connect IP:PORT --host NAME -n N [--notification-wait]
 *       Opens N TLS connections one after the other (full handshake each, ALPN http/1.1, SNI
 *       NAME). With --notification-wait each sends a MAPI NotificationWait POST and reads until
 *       the response's "PROCESSING" chunk has arrived, so the proxy holds a backend request for
 *       it; otherwise each stays idle after its handshake. Then prints one line
 *         READY ok=<opened> failed=<failed>
 *       and holds everything until SIGTERM/SIGINT, when it closes every socket at once (no TLS
 *       close_notify: the client just goes away) and exits 0.
 *       --pending-period MS asks the backend (mapi-responder) for a PENDING chunk every MS ms
 *       (request field X-Bench-PendingPeriod); --watch S then reads every held long-poll for S
 *       seconds after READY and prints one line
 *         PENDING received=<n> expected=<e> p50_ms=<x> p99_ms=<y> max_ms=<z>
 *       where each PENDING's delay is its arrival minus when the backend was due to write it:
 *       the k-th is due k periods (X-PendingPeriod of the response head) after PROCESSING came.
 *       `expected` counts the PENDINGs due before the watch ended.
 *
 *   mapiload newconn --connect IP:PORT --host NAME -c K -d SECONDS [--body-bytes N] [--resume]
 *       K processes, each in a loop: TCP connect, TLS handshake, one MAPI Execute POST (N-byte
 *       body, Connection: close), read the whole chunked response, close. Without --resume every
 *       handshake is a full one (no tickets, no session cache); with it each process offers the
 *       session ticket it received last, as Outlook's TLS stack does when it reconnects.
 *       Prints one line
 *         RESULT requests=<ok> errors=<e> seconds=<s> rps=<r> p50_ms=<x> p99_ms=<y> resumed=<n>
 *       Latency covers connect + handshake + request + response.
 *
 * Build: cc -O2 -o mapiload mapiload.c -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;
static const char *host = "localhost";
static const char *mailbox = "bench@corp.test";
static SSL_CTX *ctx;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void) {
  fprintf(stderr,
          "usage: mapiload hold    --connect IP:PORT [--host NAME] -n N [--notification-wait] "
          "[--pending-period MS --watch SECONDS]\n"
          "       mapiload newconn --connect IP:PORT [--host NAME] -c K -d SECONDS "
          "[--body-bytes N] [--resume]\n");
  exit(2);
}

static int resume;             /* newconn --resume: offer the last session ticket */
static long pending_period_ms; /* hold --pending-period: asked of the backend (0: its own) */
static SSL_SESSION *last_session; /* per process */

static void make_ctx(void) {
  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    ERR_print_errors_fp(stderr);
    exit(1);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (!resume) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
}

/* Blocking TCP connect + TLS handshake with socket timeouts. Returns NULL on failure. */
static SSL *tls_open(int timeout_s) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return NULL;
  struct timeval tv = {.tv_sec = timeout_s};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0) {
    close(fd);
    return NULL;
  }
  SSL *ssl = SSL_new(ctx);
  if (!ssl) {
    close(fd);
    return NULL;
  }
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, host);
  if (resume && last_session) SSL_set_session(ssl, last_session);
  if (SSL_connect(ssl) != 1) {
    SSL_free(ssl);
    close(fd);
    ERR_clear_error();
    return NULL;
  }
  return ssl;
}

static void tls_drop(SSL *ssl) {
  int fd = SSL_get_fd(ssl);
  SSL_free(ssl);
  close(fd);
}

static int write_all(SSL *ssl, const char *buf, size_t len) {
  while (len > 0) {
    int n = SSL_write(ssl, buf, (int)len);
    if (n <= 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static char *build_request(const char *type, size_t body_bytes, int conn_close, size_t *len) {
  char period[64] = "";
  if (pending_period_ms > 0)
    snprintf(period, sizeof period, "X-Bench-PendingPeriod: %ld\r\n", pending_period_ms);
  char head[1024];
  int n = snprintf(head, sizeof head,
                   "POST /mapi/emsmdb/?MailboxId=%s HTTP/1.1\r\n"
                   "Host: %s\r\n"
                   "User-Agent: Microsoft Office/16.0 (Windows NT 10.0; mapiload)\r\n"
                   "Content-Type: application/mapi-http\r\n"
                   "X-RequestType: %s\r\n"
                   "X-RequestId: {E2EA6C1C-AA73-4A7D-B1B4-3F5F2C1D8E01}:1\r\n"
                   "X-ClientInfo: {2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1\r\n"
                   "X-ClientApplication: Outlook/16.0.17928.20114\r\n"
                   "Cookie: MapiContext=bench-context; MapiSequence=bench-sequence\r\n"
                   "Content-Length: %zu\r\n"
                   "%s%s"
                   "\r\n",
                   mailbox, host, type, body_bytes, conn_close ? "Connection: close\r\n" : "",
                   period);
  char *req = malloc((size_t)n + body_bytes);
  if (!req) exit(1);
  memcpy(req, head, (size_t)n);
  memset(req + n, 'x', body_bytes);
  *len = (size_t)n + body_bytes;
  return req;
}

/* ---- hold ---------------------------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

/* Latency histogram: 0.1 ms buckets up to 2 s, then one overflow bucket. */
#define BUCKETS 20001
static double percentile(const long long *hist, long long total, double p);

/* One held long-poll, as the watch follows it. */
struct poll_watch {
  double processing_at; /* when its PROCESSING chunk arrived */
  double period_s;      /* the response's X-PendingPeriod */
  long long pendings;   /* PENDING chunks seen so far */
  long long before;     /* of those, read before the watch began (not timed) */
  char tail[8];         /* the last bytes read, for a "PENDING" split across reads */
};

static long long pending_hist[BUCKETS];
static long long pending_received;
static double pending_worst;

/* Reads what has arrived on a held long-poll and counts its PENDINGs; `timed`: each one's
 * delay goes into the histogram (else it arrived while the connections were still opening). */
static void read_pendings(SSL *ssl, struct poll_watch *p, int timed) {
  char buf[16384 + 8];
  for (;;) {
    size_t carry = strlen(p->tail);
    memcpy(buf, p->tail, carry);
    int r = SSL_read(ssl, buf + carry, 16384);
    if (r <= 0) break;
    const double now = now_s();
    size_t len = carry + (size_t)r;
    for (char *at = buf; (at = memmem(at, len - (size_t)(at - buf), "PENDING", 7)); at += 7) {
      p->pendings++;
      if (!timed) continue;
      pending_received++;
      double delay = now - (p->processing_at + (double)p->pendings * p->period_s);
      if (delay < 0) delay = 0;
      if (delay > pending_worst) pending_worst = delay;
      long b = (long)(delay * 1e4);
      pending_hist[b < BUCKETS - 1 ? b : BUCKETS - 1]++;
    }
    size_t keep = len < 6 ? len : 6; /* shorter than "PENDING": never counted twice */
    memcpy(p->tail, buf + len - keep, keep);
    p->tail[keep] = 0;
  }
  ERR_clear_error();
}

/* Reads every held long-poll for `seconds` and prints the PENDING line (see the top). */
static void watch_pendings(SSL **held, struct poll_watch *w, int n, double seconds) {
  int ep = epoll_create1(0);
  for (int i = 0; i < n; i++) {
    int fd = SSL_get_fd(held[i]);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    read_pendings(held[i], &w[i], 0);
    w[i].before = w[i].pendings;
  }
  const double end = now_s() + seconds;
  struct epoll_event evs[256];
  while (!stop_flag) {
    const double left = end - now_s();
    if (left <= 0) break;
    int k = epoll_wait(ep, evs, 256, (int)(left * 1000) + 1);
    for (int e = 0; e < k; e++) read_pendings(held[evs[e].data.u32], &w[evs[e].data.u32], 1);
  }
  long long expected = 0;
  for (int i = 0; i < n; i++) {
    if (w[i].period_s <= 0) continue;
    long long due = (long long)((end - w[i].processing_at) / w[i].period_s) - w[i].before;
    if (due > 0) expected += due;
  }
  printf("PENDING received=%lld expected=%lld p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
         pending_received, expected,
         pending_received ? percentile(pending_hist, pending_received, 0.50) : 0.0,
         pending_received ? percentile(pending_hist, pending_received, 0.99) : 0.0,
         pending_worst * 1e3);
  fflush(stdout);
  close(ep);
}

static int run_hold(int count, int notification_wait, double watch_s) {
  SSL **held = calloc((size_t)count, sizeof *held);
  struct poll_watch *w = calloc((size_t)count, sizeof *w);
  if (!held || !w) return 1;
  size_t req_len = 0;
  char *req = build_request("NotificationWait", 8, 0, &req_len);
  int ok = 0, failed = 0;
  char buf[16384];
  for (int i = 0; i < count && !stop_flag; i++) {
    SSL *ssl = tls_open(10);
    if (!ssl) {
      failed++;
      continue;
    }
    if (notification_wait) {
      int good = write_all(ssl, req, req_len) == 0;
      size_t got = 0;
      buf[0] = 0;
      while (good && !strstr(buf, "PROCESSING")) {
        if (got >= sizeof buf - 1) {
          good = 0;
          break;
        }
        int n = SSL_read(ssl, buf + got, (int)(sizeof buf - 1 - got));
        if (n <= 0) {
          good = 0;
          break;
        }
        got += (size_t)n;
        buf[got] = 0;
      }
      if (good && strncmp(buf, "HTTP/1.1 200", 12) != 0) good = 0;
      if (!good) {
        tls_drop(ssl);
        failed++;
        continue;
      }
      w[ok].processing_at = now_s();
      const char *pp = strcasestr(buf, "\r\nX-PendingPeriod:");
      if (pp) w[ok].period_s = strtod(pp + 18, NULL) / 1e3;
    }
    held[ok++] = ssl;
  }
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &old);
  printf("READY ok=%d failed=%d\n", ok, failed);
  fflush(stdout);
  if (notification_wait && watch_s > 0) {
    sigprocmask(SIG_SETMASK, &old, NULL); /* the watch ends early on SIGTERM/SIGINT */
    watch_pendings(held, w, ok, watch_s);
    sigprocmask(SIG_BLOCK, &block, NULL);
  }
  while (!stop_flag) sigsuspend(&old);
  for (int i = 0; i < ok; i++) close(SSL_get_fd(held[i]));
  return 0;
}

/* ---- newconn ------------------------------------------------------------------------------- */

struct result {
  long long ok, errors, resumed;
  long long hist[BUCKETS];
};

/* Reads one response to the end of its chunked body (or until EOF). 0 when it was a 200. */
static int read_response(SSL *ssl) {
  static char buf[65536];
  size_t got = 0;
  for (;;) {
    if (got >= sizeof buf - 1) return -1;
    int n = SSL_read(ssl, buf + got, (int)(sizeof buf - 1 - got));
    if (n <= 0) {
      /* EOF: complete only if the body's last chunk was seen. */
      break;
    }
    got += (size_t)n;
    if (got >= 5 && memcmp(buf + got - 5, "0\r\n\r\n", 5) == 0 &&
        memmem(buf, got, "\r\n\r\n", 4) != NULL) {
      break;
    }
  }
  buf[got] = 0;
  if (got < 12 || strncmp(buf, "HTTP/1.1 200", 12) != 0) return -1;
  if (got < 5 || memcmp(buf + got - 5, "0\r\n\r\n", 5) != 0) return -1;
  return 0;
}

static void newconn_worker(double deadline, size_t body_bytes, struct result *r) {
  size_t req_len = 0;
  char *req = build_request("Execute", body_bytes, 1, &req_len);
  while (now_s() < deadline) {
    double t0 = now_s();
    SSL *ssl = tls_open(10);
    if (!ssl) {
      r->errors++;
      usleep(1000);
      continue;
    }
    int good = write_all(ssl, req, req_len) == 0 && read_response(ssl) == 0;
    if (good && SSL_session_reused(ssl)) r->resumed++;
    if (good && resume) {
      /* TLS 1.3 tickets arrive after the handshake: read with the response, usable now. */
      SSL_SESSION *s = SSL_get1_session(ssl);
      if (s && SSL_SESSION_is_resumable(s)) {
        if (last_session) SSL_SESSION_free(last_session);
        last_session = s;
      } else if (s) {
        SSL_SESSION_free(s);
      }
    }
    /* close_notify first: OpenSSL marks the session of a connection freed without one as not
       resumable. */
    if (good) SSL_shutdown(ssl);
    tls_drop(ssl);
    if (!good) {
      r->errors++;
      continue;
    }
    double ms = (now_s() - t0) * 1000.0;
    long b = (long)(ms * 10.0);
    if (b >= BUCKETS - 1 || b < 0) b = BUCKETS - 1;
    r->hist[b]++;
    r->ok++;
  }
}

static double percentile(const long long *hist, long long total, double p) {
  long long want = (long long)(p * (double)total);
  if (want >= total) want = total - 1;
  long long seen = 0;
  for (int i = 0; i < BUCKETS; i++) {
    seen += hist[i];
    if (seen > want) return (double)i / 10.0 + 0.05;
  }
  return 0;
}

static int run_newconn(int workers, double seconds, size_t body_bytes) {
  double start = now_s();
  double deadline = start + seconds;
  int fds[256][2];
  pid_t pids[256];
  if (workers > 256) workers = 256;
  for (int w = 0; w < workers; w++) {
    if (pipe(fds[w]) < 0) return 1;
    pids[w] = fork();
    if (pids[w] < 0) return 1;
    if (pids[w] == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the parent */
      if (getppid() == 1) _exit(1);
      close(fds[w][0]);
      struct result *r = calloc(1, sizeof *r);
      if (!r) _exit(1);
      newconn_worker(deadline, body_bytes, r);
      const char *p = (const char *)r;
      size_t left = sizeof *r;
      while (left > 0) {
        ssize_t n = write(fds[w][1], p, left);
        if (n <= 0) _exit(1);
        p += n;
        left -= (size_t)n;
      }
      _exit(0);
    }
    close(fds[w][1]);
  }
  struct result *total = calloc(1, sizeof *total), *one = calloc(1, sizeof *one);
  if (!total || !one) return 1;
  for (int w = 0; w < workers; w++) {
    char *p = (char *)one;
    size_t left = sizeof *one;
    while (left > 0) {
      ssize_t n = read(fds[w][0], p, left);
      if (n <= 0) break;
      p += n;
      left -= (size_t)n;
    }
    close(fds[w][0]);
    waitpid(pids[w], NULL, 0);
    if (left != 0) {
      total->errors++;
      continue;
    }
    total->ok += one->ok;
    total->errors += one->errors;
    total->resumed += one->resumed;
    for (int i = 0; i < BUCKETS; i++) total->hist[i] += one->hist[i];
  }
  double elapsed = now_s() - start;
  printf("RESULT requests=%lld errors=%lld seconds=%.3f rps=%.1f p50_ms=%.2f p99_ms=%.2f "
         "resumed=%lld\n",
         total->ok, total->errors, elapsed, (double)total->ok / elapsed,
         total->ok ? percentile(total->hist, total->ok, 0.50) : 0.0,
         total->ok ? percentile(total->hist, total->ok, 0.99) : 0.0, total->resumed);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *mode = argv[1];
  const char *connect_to = NULL;
  int count = 0, workers = 16, notification_wait = 0;
  double seconds = 10, watch_s = 0;
  size_t body_bytes = 1024;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--notification-wait")) {
      notification_wait = 1;
      continue;
    }
    if (!strcmp(argv[i], "--resume")) {
      resume = 1;
      continue;
    }
    if (i + 1 >= argc) usage();
    if (!strcmp(argv[i], "--connect")) connect_to = argv[++i];
    else if (!strcmp(argv[i], "--host")) host = argv[++i];
    else if (!strcmp(argv[i], "--mailbox")) mailbox = argv[++i];
    else if (!strcmp(argv[i], "-n")) count = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-c")) workers = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-d")) seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--body-bytes")) body_bytes = (size_t)atol(argv[++i]);
    else if (!strcmp(argv[i], "--pending-period")) pending_period_ms = atol(argv[++i]);
    else if (!strcmp(argv[i], "--watch")) watch_s = atof(argv[++i]);
    else usage();
  }
  if (!connect_to) usage();
  char ip[64];
  const char *colon = strrchr(connect_to, ':');
  if (!colon || (size_t)(colon - connect_to) >= sizeof ip) usage();
  memcpy(ip, connect_to, (size_t)(colon - connect_to));
  ip[colon - connect_to] = 0;
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)atoi(colon + 1));
  if (inet_pton(AF_INET, ip, &target.sin_addr) != 1) usage();

  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  make_ctx();
  if (!strcmp(mode, "hold")) {
    if (count <= 0) usage();
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    return run_hold(count, notification_wait, watch_s);
  }
  if (!strcmp(mode, "newconn")) {
    if (workers <= 0 || seconds <= 0) usage();
    return run_newconn(workers, seconds, body_bytes);
  }
  usage();
  return 2;
}
