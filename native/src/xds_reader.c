/*
 * The half of libxds.so that runs inside nginx. APISIX's config_xds.lua calls initial() with the
 * zones of the `xds-config` and `xds-config-version` shared dicts; a thread then follows the
 * shared-memory file the agent writes and stores each published state into the dicts through
 * lua-nginx-module's own FFI store function (the zone's shm mutex makes that safe from a thread).
 *
 * Per batch: a fixed-size marker key says "dirty", changed keys are stored (op SAFE: a full dict
 * fails instead of evicting live routes), removed keys deleted (value type nil), `version` bumped
 * once, marker set to "<file id> <generation>". A failed store undoes the batch and is reported in
 * the file's status area. The marker lets a new instance (nginx reload, worker respawn) know what
 * the dict already holds, so it rebuilds without the agent resending.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "xds_layout.h"
#include "xds_state.h"
#include "xds_sync.h"

#define SHDICT_SAFE_STORE 0x4
#define SHDICT_TNIL 0
#define SHDICT_TNUMBER 3
#define SHDICT_TSTRING 4

#define DEFAULT_PATH "/run/amesh/xds.shm"
#define MARKER_KEY "amesh-xds-state" /* no leading "/": no APISIX kind prefix can match it */
#define OWNER_KEY "amesh-xds-owner"
#define VERSION_KEY "version"
#define MARKER_LEN 37 /* "%016x %020u": same length dirty or clean, so it is replaced in place */

typedef int (*store_fn)(void *zone, int op, const unsigned char *key, size_t key_len, int value_type,
                        const unsigned char *str_value_buf, size_t str_value_len, double num_value, long exptime,
                        int user_flags, char **errmsg, int *forcible);
typedef int (*get_fn)(void *zone, const unsigned char *key, size_t key_len, int *value_type, unsigned char **str_value_buf,
                      size_t *str_value_len, double *num_value, int *user_flags, int get_stale, int *is_stale, char **errmsg);
typedef int (*flush_fn)(void *zone);

struct undo {
  const uint8_t *key;
  uint32_t key_len;
  const struct xds_entry *previous; /* NULL: the key was absent before the batch */
};

struct reader {
  void *config_zone, *version_zone;
  store_fn store;
  get_fn get;
  flush_fn flush_all;
  char path[4096];
  double owner_token;
  int fd;
  struct xds_header *h;
  size_t map_len;
  dev_t dev;
  ino_t ino;
  uint64_t last_identity_check_ms;
  struct xds_state current; /* what the dict holds of ours */
  uint64_t current_gen;
  uint64_t attempted_gen; /* a failed generation is not retried: the agent publishes a new one */
  int resync;             /* the dict may hold keys `current` does not know: flush before the next batch */
  uint64_t last_version;
  struct undo *undo;
  size_t undo_cap;
};

static void logf_(const char *format, ...) {
  va_list args;
  va_start(args, format);
  /* nginx redirects a worker's stderr to its error log. */
  fprintf(stderr, "[amesh libxds] pid %d: ", (int)getpid());
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
}

static void *resolve(const char *name) {
  void *symbol = dlsym(RTLD_DEFAULT, name);
  if (symbol) return symbol;
  /* apisix-runtime builds moved the shdict API into the meta module. */
  char meta[128];
  snprintf(meta, sizeof meta, "ngx_meta_lua_%s", name + strlen("ngx_http_lua_"));
  return dlsym(RTLD_DEFAULT, meta);
}

/* Reads a string or number value; returns its type (0 = absent). */
static int dict_get(struct reader *r, void *zone, const char *key, char *out, size_t out_len, double *number) {
  unsigned char buffer[128], *value = buffer;
  size_t value_len = sizeof buffer;
  int value_type = 0, user_flags = 0, is_stale = 0;
  char *errmsg = NULL;
  if (r->get(zone, (const unsigned char *)key, strlen(key), &value_type, &value, &value_len, number, &user_flags, 0, &is_stale, &errmsg) != 0)
    return 0;
  if (value_type == SHDICT_TSTRING && out) {
    size_t n = value_len < out_len - 1 ? value_len : out_len - 1;
    memcpy(out, value, n);
    out[n] = '\0';
  }
  if (value != buffer) free(value);
  return value_type;
}

static int dict_store(struct reader *r, void *zone, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
                      const char **errmsg) {
  char *message = NULL;
  int forcible = 0;
  int rc = r->store(zone, SHDICT_SAFE_STORE, key, key_len, SHDICT_TSTRING, value, value_len, 0, 0, 0, &message, &forcible);
  *errmsg = rc == 0 ? NULL : (message ? message : "store failed");
  return rc;
}

static int dict_delete(struct reader *r, void *zone, const uint8_t *key, size_t key_len) {
  char *message = NULL;
  int forcible = 0;
  return r->store(zone, 0, key, key_len, SHDICT_TNIL, NULL, 0, 0, 0, 0, &message, &forcible);
}

static int owner_lost(struct reader *r) {
  double token = 0;
  return dict_get(r, r->version_zone, OWNER_KEY, NULL, 0, &token) != SHDICT_TNUMBER || token != r->owner_token;
}

static int write_marker(struct reader *r, uint64_t generation, int dirty, const char **errmsg) {
  char marker[MARKER_LEN + 1];
  if (dirty) snprintf(marker, sizeof marker, "%-*s", MARKER_LEN, "dirty");
  else snprintf(marker, sizeof marker, "%016" PRIx64 " %020" PRIu64, r->h->file_id, generation);
  return dict_store(r, r->config_zone, (const uint8_t *)MARKER_KEY, strlen(MARKER_KEY), (const uint8_t *)marker, MARKER_LEN, errmsg);
}

static void report(struct reader *r, uint64_t generation, int code, const uint8_t *key, size_t key_len, const char *format, ...) {
  struct xds_status *s = &r->h->status;
  s->error_code = code;
  snprintf(s->error_key, sizeof s->error_key, "%.*s", (int)(key_len < XDS_TEXT - 1 ? key_len : XDS_TEXT - 1), key ? (const char *)key : "");
  va_list args;
  va_start(args, format);
  vsnprintf(s->error_message, sizeof s->error_message, format, args);
  va_end(args);
  if (code == XDS_OK) {
    s->dict_keys = r->current.count;
    XDS_STORE(&s->applied_generation, generation);
  } else {
    logf_("generation %" PRIu64 " not applied: %s%s%s", generation, s->error_message, key ? " at " : "", s->error_key);
    XDS_STORE(&s->failed_generation, generation);
  }
  __atomic_fetch_add(&r->h->ack_seq, 1, __ATOMIC_SEQ_CST);
  xds_futex_wake_all(&r->h->ack_seq);
}

/* Copies the slot holding `generation` out of the file; NULL when it is absent or being rewritten. */
static uint8_t *copy_slot(struct reader *r, uint64_t generation, uint64_t *length, uint64_t *count) {
  for (int i = 0; i < 2; i++) {
    struct xds_slot *slot = &r->h->slots[i];
    if (XDS_LOAD(&slot->generation) != generation) continue;
    *length = slot->length;
    *count = slot->count;
    if (*length > r->h->slot_capacity) return NULL;
    uint8_t *copy = malloc(*length ? *length : 1);
    if (!copy) return NULL;
    memcpy(copy, xds_slot_data(r->h, i), *length);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&slot->generation, __ATOMIC_RELAXED) == generation) return copy;
    free(copy); /* the agent started rewriting the slot meanwhile: a newer publication follows */
  }
  return NULL;
}

static int next_version(struct reader *r, const char **errmsg) {
  uint64_t now = xds_now_ms(CLOCK_REALTIME);
  r->last_version = now > r->last_version ? now : r->last_version + 1;
  char text[32];
  int n = snprintf(text, sizeof text, "%" PRIu64, r->last_version);
  return dict_store(r, r->version_zone, (const uint8_t *)VERSION_KEY, strlen(VERSION_KEY), (const uint8_t *)text, (size_t)n, errmsg);
}

static int push_undo(struct reader *r, size_t n, const uint8_t *key, uint32_t key_len, const struct xds_entry *previous) {
  if (n == r->undo_cap) {
    size_t cap = r->undo_cap ? r->undo_cap * 2 : 1024;
    struct undo *grown = realloc(r->undo, cap * sizeof *grown);
    if (!grown) return -1;
    r->undo = grown;
    r->undo_cap = cap;
  }
  r->undo[n] = (struct undo){key, key_len, previous};
  return 0;
}

/* Puts back what the undo log recorded; 0 when the dict is exactly `current` again. */
static int roll_back(struct reader *r, size_t n) {
  int failed = 0;
  const char *errmsg;
  while (n-- > 0) {
    const struct undo *u = &r->undo[n];
    if (u->previous) failed |= dict_store(r, r->config_zone, u->key, u->key_len, u->previous->value, u->previous->value_len, &errmsg) != 0;
    else failed |= dict_delete(r, r->config_zone, u->key, u->key_len) != 0;
  }
  return failed ? -1 : 0;
}

/* Makes the dict hold `next`; on failure the dict is back at `current` (or flagged for resync). */
static void apply_state(struct reader *r, uint64_t generation, struct xds_state *next) {
  const char *errmsg = NULL;
  if (r->resync) {
    r->flush_all(r->config_zone);
    xds_state_free(&r->current);
    r->current_gen = 0;
    r->resync = 0;
  }
  if (write_marker(r, 0, 1, &errmsg) != 0) {
    report(r, generation, XDS_E_STORE, (const uint8_t *)MARKER_KEY, strlen(MARKER_KEY), "storing into xds-config: %s", errmsg);
    return;
  }
  size_t undone = 0;
  const uint8_t *failed_key = NULL;
  size_t failed_len = 0, failed_value_len = 0;
  int code = XDS_OK;
  for (size_t i = 0; i < next->count && code == XDS_OK; i++) {
    const struct xds_entry *e = &next->entries[i];
    long old = xds_state_find(&r->current, e->key, e->key_len);
    const struct xds_entry *previous = old >= 0 ? &r->current.entries[old] : NULL;
    if (previous && previous->value_len == e->value_len && memcmp(previous->value, e->value, e->value_len) == 0) continue;
    if (push_undo(r, undone, e->key, e->key_len, previous) != 0) {
      code = XDS_E_STORE, errmsg = "out of memory for the undo log";
      break;
    }
    if (dict_store(r, r->config_zone, e->key, e->key_len, e->value, e->value_len, &errmsg) != 0) {
      code = XDS_E_STORE, failed_key = e->key, failed_len = e->key_len, failed_value_len = e->value_len;
      break;
    }
    undone++;
  }
  /* Deletions last and in reverse order: dependents (routes) go before what they reference. */
  for (size_t i = r->current.count; i-- > 0 && code == XDS_OK;) {
    const struct xds_entry *o = &r->current.entries[i];
    if (xds_state_find(next, o->key, o->key_len) >= 0) continue;
    if (push_undo(r, undone, o->key, o->key_len, o) != 0) {
      code = XDS_E_STORE, errmsg = "out of memory for the undo log";
      break;
    }
    dict_delete(r, r->config_zone, o->key, o->key_len);
    undone++;
  }
  if (code == XDS_OK && next_version(r, &errmsg) != 0) {
    code = XDS_E_STORE, failed_key = (const uint8_t *)VERSION_KEY, failed_len = strlen(VERSION_KEY);
  }
  if (code != XDS_OK) {
    int rolled_back = roll_back(r, undone) == 0 && write_marker(r, r->current_gen, 0, &(const char *){0}) == 0;
    if (!rolled_back) r->resync = 1;
    report(r, generation, rolled_back ? code : XDS_E_ROLLBACK, failed_key, failed_len,
           "storing %zu bytes into %s: %s%s", failed_value_len, failed_key == (const uint8_t *)VERSION_KEY ? "xds-config-version" : "xds-config",
           errmsg ? errmsg : "failed", rolled_back ? "; batch rolled back" : "; rollback failed, the next batch rewrites the dict");
    xds_state_free(next);
    return;
  }
  write_marker(r, generation, 0, &errmsg); /* same length as "dirty": replaced in place, cannot fail */
  xds_state_free(&r->current);
  r->current = *next;
  r->current_gen = generation;
  report(r, generation, XDS_OK, NULL, 0, "");
}

static void try_apply(struct reader *r, uint64_t generation) {
  uint64_t length = 0, count = 0;
  uint8_t *copy = copy_slot(r, generation, &length, &count);
  if (!copy) return;
  r->attempted_gen = generation;
  struct xds_state next;
  char error[200];
  if (xds_state_parse(&next, copy, length, count, error, sizeof error) != 0) {
    xds_state_free(&next);
    report(r, generation, XDS_E_MALFORMED, NULL, 0, "malformed state: %s", error);
    return;
  }
  apply_state(r, generation, &next);
}

/* A new instance learns what the dict holds from the marker and the slot it names. */
static void adopt_dict(struct reader *r) {
  char marker[64] = "";
  double unused;
  char version[32] = "";
  if (dict_get(r, r->version_zone, VERSION_KEY, version, sizeof version, &unused) == SHDICT_TSTRING) r->last_version = strtoull(version, NULL, 10);
  xds_state_free(&r->current);
  r->current_gen = 0;
  r->resync = 0;
  if (dict_get(r, r->config_zone, MARKER_KEY, marker, sizeof marker, &unused) != SHDICT_TSTRING) return; /* fresh dict */
  uint64_t file_id = 0, generation = 0;
  if (sscanf(marker, "%" SCNx64 " %" SCNu64, &file_id, &generation) == 2 && file_id == r->h->file_id) {
    if (generation == 0) return;
    uint64_t length = 0, count = 0;
    uint8_t *copy = copy_slot(r, generation, &length, &count);
    char error[200];
    if (copy && xds_state_parse(&r->current, copy, length, count, error, sizeof error) == 0) {
      r->current_gen = generation;
      return;
    }
    xds_state_free(&r->current);
  }
  logf_("xds-config holds state \"%s\" this file cannot describe: it is rewritten from scratch", marker);
  r->resync = 1;
}

static void unmap(struct reader *r) {
  if (r->h) munmap(r->h, r->map_len);
  if (r->fd >= 0) close(r->fd);
  r->h = NULL;
  r->fd = -1;
}

static int map_file(struct reader *r) {
  int fd = open(r->path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  struct xds_header probe;
  if (fstat(fd, &st) != 0 || (size_t)st.st_size < XDS_HEADER_SIZE || pread(fd, &probe, sizeof probe, 0) != (ssize_t)sizeof probe ||
      probe.magic != XDS_MAGIC || probe.layout != XDS_LAYOUT || (uint64_t)st.st_size != xds_file_size(probe.slot_capacity)) {
    close(fd); /* not (yet) a complete file: the agent writes the magic last */
    return -1;
  }
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    close(fd);
    return -1;
  }
  r->fd = fd;
  r->h = map;
  r->map_len = (size_t)st.st_size;
  r->dev = st.st_dev;
  r->ino = st.st_ino;
  r->attempted_gen = 0;
  r->h->status.reader_pid = (uint32_t)getpid();
  flock(fd, LOCK_EX);
  adopt_dict(r);
  flock(fd, LOCK_UN);
  logf_("following %s (applied generation %" PRIu64 ")", r->path, r->current_gen);
  return 0;
}

/* The agent may replace the file (deleted and recreated): follow the path, not the old inode. */
static void check_identity(struct reader *r) {
  uint64_t now = xds_now_ms(CLOCK_MONOTONIC);
  if (now - r->last_identity_check_ms < 1000) return;
  r->last_identity_check_ms = now;
  struct stat st;
  if (stat(r->path, &st) == 0 && (st.st_dev != r->dev || st.st_ino != r->ino)) unmap(r);
}

static void *follow(void *arg) {
  struct reader *r = arg;
  for (;;) {
    if (owner_lost(r)) break; /* a newer instance (nginx reload) took over */
    if (!r->h) {
      if (map_file(r) != 0) {
        usleep(100 * 1000);
        continue;
      }
    }
    check_identity(r);
    if (!r->h) continue;
    XDS_STORE(&r->h->status.heartbeat_ms, xds_now_ms(CLOCK_REALTIME));
    uint32_t seen = XDS_LOAD(&r->h->publish_seq);
    uint64_t published = XDS_LOAD(&r->h->published_generation);
    if (published != 0 && published != r->current_gen && published != r->attempted_gen) {
      flock(r->fd, LOCK_EX);
      if (!owner_lost(r)) try_apply(r, published);
      flock(r->fd, LOCK_UN);
      /* Not attempted: the slot was being rewritten; the futex wakes us when that publication lands. */
      if (r->attempted_gen == published) continue;
    }
    xds_futex_wait(&r->h->publish_seq, seen, 500);
  }
  logf_("another instance follows %s now; this one stops", r->path);
  unmap(r);
  xds_state_free(&r->current);
  free(r->undo);
  free(r);
  return NULL;
}

/* APISIX's entry point (config_xds.lua): must return at once, so the work happens on a thread. */
void initial(void *config_zone, void *version_zone) {
  struct reader *r = calloc(1, sizeof *r);
  if (!r) return;
  r->fd = -1;
  r->config_zone = config_zone;
  r->version_zone = version_zone;
  r->store = (store_fn)resolve("ngx_http_lua_ffi_shdict_store");
  r->get = (get_fn)resolve("ngx_http_lua_ffi_shdict_get");
  r->flush_all = (flush_fn)resolve("ngx_http_lua_ffi_shdict_flush_all");
  if (!r->store || !r->get || !r->flush_all || !config_zone || !version_zone) {
    logf_("not started: %s", !config_zone || !version_zone ? "missing shared dict zone" : "lua-nginx-module's shdict FFI functions are not in this process");
    free(r);
    return;
  }
  const char *path = getenv("AMESH_XDS_SHM");
  snprintf(r->path, sizeof r->path, "%s", path && *path ? path : DEFAULT_PATH);
  /* Claim the dicts: an older instance (the worker an nginx reload replaces) sees the token move and stops. */
  double token = 0;
  dict_get(r, version_zone, OWNER_KEY, NULL, 0, &token);
  r->owner_token = token + 1;
  char *errmsg = NULL;
  int forcible = 0;
  if (r->store(version_zone, 0, (const unsigned char *)OWNER_KEY, strlen(OWNER_KEY), SHDICT_TNUMBER, NULL, 0, r->owner_token, 0, 0, &errmsg, &forcible) != 0) {
    logf_("not started: cannot claim xds-config-version: %s", errmsg ? errmsg : "store failed");
    free(r);
    return;
  }
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&thread, &attr, follow, r) != 0) {
    logf_("not started: pthread_create failed");
    free(r);
  }
  pthread_attr_destroy(&attr);
}
