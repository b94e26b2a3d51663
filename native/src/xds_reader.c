/*
 * The half of libxds.so that runs inside nginx. APISIX's config_xds.lua calls initial() with the
 * zones of the `xds-config` and `xds-config-version` shared dicts; a thread then follows the
 * shared-memory file the agent writes and stores each published state into the dicts through
 * lua-nginx-module's own FFI store function (the zone's shm mutex makes that safe from a thread).
 *
 * A batch is either a delta record (applied key by key against the state this thread holds) or a
 * whole state (snapshot plus the log up to it, diffed against that state: after a failure, a
 * reload, or when the agent compacts the log).
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
  struct position { /* where `current_gen` is in the file: slot, its snapshot generation, log offset after it */
    int slot;
    uint64_t base, log_offset;
  } at;
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

/* A private copy of slot bytes [start, end): the agent may rewrite the slot meanwhile. */
struct chain {
  int slot;
  uint64_t base, length, count, log_end;
  uint8_t *bytes; /* slot data from `start` */
  uint64_t start;
};

/* Copies the chain holding `generation` (from the log position `from`, or all of it when NULL); -1 when absent or being rewritten. */
static int copy_chain(struct reader *r, uint64_t generation, const struct position *from, struct chain *c) {
  for (int i = 0; i < 2; i++) {
    struct xds_slot *slot = &r->h->slots[i];
    uint64_t base = XDS_LOAD(&slot->generation);
    if (base == 0 || generation < base || generation > XDS_LOAD(&slot->last_generation)) continue;
    if (from && (from->slot != i || from->base != base)) return -1;
    *c = (struct chain){.slot = i, .base = base, .length = slot->length, .count = slot->count, .log_end = XDS_LOAD(&slot->log_end)};
    uint64_t end = c->length + c->log_end;
    c->start = from ? c->length + from->log_offset : 0;
    if (end > r->h->slot_capacity || c->start > end) return -1;
    c->bytes = malloc(end - c->start ? end - c->start : 1);
    if (!c->bytes) return -1;
    memcpy(c->bytes, xds_slot_data(r->h, i) + c->start, end - c->start);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&slot->generation, __ATOMIC_RELAXED) == base) return 0;
    free(c->bytes); /* the agent started rewriting the slot meanwhile: a newer publication follows */
    c->bytes = NULL;
    return -1;
  }
  return -1;
}

/* The record at log offset *offset of a copied chain; 0, or -1 (malformed) with a message. */
static int next_record(const struct chain *c, uint64_t *offset, struct xds_record *record, const uint8_t **entries, char *error, size_t error_len) {
  uint64_t at = c->length + *offset - c->start, end = c->length + c->log_end - c->start;
  if (*offset > c->log_end || end - at < sizeof *record) {
    snprintf(error, error_len, "truncated record at log byte %" PRIu64, *offset);
    return -1;
  }
  memcpy(record, c->bytes + at, sizeof *record);
  if (record->length > end - at - sizeof *record) {
    snprintf(error, error_len, "record of generation %" PRIu64 " overruns the log", record->generation);
    return -1;
  }
  *entries = c->bytes + at + sizeof *record;
  *offset += sizeof *record + record->length;
  return 0;
}

/* The complete state of `generation`: its snapshot plus the log up to it. 1: not in the file (now), -1: malformed. */
static int materialize(struct reader *r, uint64_t generation, struct xds_state *out, struct position *at, char *error, size_t error_len) {
  struct chain c;
  memset(out, 0, sizeof *out);
  if (copy_chain(r, generation, NULL, &c) != 0) return 1;
  int rc = xds_state_apply(out, c.bytes, c.length, c.count, 0, error, error_len);
  uint64_t offset = 0;
  while (rc == 0 && generation != c.base) {
    struct xds_record record;
    const uint8_t *entries;
    rc = next_record(&c, &offset, &record, &entries, error, error_len);
    if (rc == 0) rc = xds_state_apply(out, entries, record.length, record.count, 1, error, error_len);
    if (rc == 0 && record.generation == generation) break;
  }
  free(c.bytes);
  if (rc != 0) {
    xds_state_free(out);
    return -1;
  }
  *at = (struct position){c.slot, c.base, offset};
  return 0;
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
    if (u->previous) failed |= dict_store(r, r->config_zone, u->key, u->key_len, xds_entry_value(u->previous), u->previous->value_len, &errmsg) != 0;
    else failed |= dict_delete(r, r->config_zone, u->key, u->key_len) != 0;
  }
  return failed ? -1 : 0;
}

static int same_value(const struct xds_entry *e, const uint8_t *value, uint32_t value_len) {
  return e && e->value_len == value_len && memcmp(xds_entry_value(e), value, value_len) == 0;
}

/* Stores or deletes one key, recording how to undo it; 0, or an error code with *errmsg set. */
static int change_key(struct reader *r, size_t *undone, const uint8_t *key, uint32_t key_len, const uint8_t *value, uint32_t value_len, int deleted,
                      const char **errmsg) {
  const struct xds_entry *previous = xds_state_find(&r->current, key, key_len);
  if (deleted ? !previous : same_value(previous, value, value_len)) return XDS_OK;
  if (push_undo(r, *undone, key, key_len, previous) != 0) {
    *errmsg = "out of memory for the undo log";
    return XDS_E_STORE;
  }
  if (deleted) dict_delete(r, r->config_zone, key, key_len);
  else if (dict_store(r, r->config_zone, key, key_len, value, value_len, errmsg) != 0) return XDS_E_STORE;
  ++*undone;
  return XDS_OK;
}

/* Ends a batch whose keys are stored: bumps `version`, or undoes the batch. 0 when it is applied. */
static int finish_batch(struct reader *r, uint64_t generation, int code, size_t undone, const uint8_t *failed_key, size_t failed_len,
                        size_t failed_value_len, const char *errmsg) {
  if (code == XDS_OK && next_version(r, &errmsg) != 0) {
    code = XDS_E_STORE, failed_key = (const uint8_t *)VERSION_KEY, failed_len = strlen(VERSION_KEY);
  }
  if (code == XDS_OK) return 0;
  int rolled_back = roll_back(r, undone) == 0 && write_marker(r, r->current_gen, 0, &(const char *){0}) == 0;
  if (!rolled_back) r->resync = 1;
  report(r, generation, rolled_back ? code : XDS_E_ROLLBACK, failed_key, failed_len, "storing %zu bytes into %s: %s%s", failed_value_len,
         failed_key == (const uint8_t *)VERSION_KEY ? "xds-config-version" : "xds-config", errmsg ? errmsg : "failed",
         rolled_back ? "; batch rolled back" : "; rollback failed, the next batch rewrites the dict");
  return -1;
}

/* Makes the dict hold `next` (a whole state); on failure the dict is back at `current` (or flagged for resync). */
static int apply_state(struct reader *r, uint64_t generation, struct xds_state *next, const struct position *at) {
  const char *errmsg = NULL;
  if (r->resync) {
    r->flush_all(r->config_zone);
    xds_state_free(&r->current);
    r->current_gen = 0;
    r->resync = 0;
  }
  if (write_marker(r, 0, 1, &errmsg) != 0) {
    report(r, generation, XDS_E_STORE, (const uint8_t *)MARKER_KEY, strlen(MARKER_KEY), "storing into xds-config: %s", errmsg);
    xds_state_free(next);
    return -1;
  }
  size_t undone = 0;
  const struct xds_entry *failed = NULL;
  int code = XDS_OK;
  for (const struct xds_entry *e = next->first; e && code == XDS_OK; e = e->next) {
    code = change_key(r, &undone, e->data, e->key_len, xds_entry_value(e), e->value_len, 0, &errmsg);
    if (code != XDS_OK) failed = e;
  }
  /* Deletions last and in reverse order: dependents (routes) go before what they reference. */
  for (const struct xds_entry *o = r->current.last; o && code == XDS_OK; o = o->prev)
    if (!xds_state_find(next, o->data, o->key_len)) code = change_key(r, &undone, o->data, o->key_len, NULL, 0, 1, &errmsg);
  if (finish_batch(r, generation, code, undone, failed ? failed->data : NULL, failed ? failed->key_len : 0, failed ? failed->value_len : 0, errmsg) != 0) {
    xds_state_free(next);
    return -1;
  }
  write_marker(r, generation, 0, &errmsg); /* same length as "dirty": replaced in place, cannot fail */
  xds_state_free(&r->current);
  r->current = *next;
  r->current_gen = generation;
  r->at = *at;
  report(r, generation, XDS_OK, NULL, 0, "");
  return 0;
}

/* Applies one delta record on top of `current`; 0 when applied (failures are reported). */
static int apply_delta(struct reader *r, const struct xds_record *record, const uint8_t *entries, uint64_t log_offset) {
  char error[200];
  const char *errmsg = NULL;
  struct xds_op op;
  size_t offset = 0;
  for (uint64_t n = 0; n < record->count; n++) /* validate it all before touching the dict */
    if (xds_next_op(entries, record->length, &offset, &op, 1, error, sizeof error) != 0) {
      report(r, record->generation, XDS_E_MALFORMED, NULL, 0, "malformed delta: entry %" PRIu64 ": %s", n, error);
      return -1;
    }
  if (offset != record->length) {
    report(r, record->generation, XDS_E_MALFORMED, NULL, 0, "malformed delta: %" PRIu64 " trailing bytes", record->length - offset);
    return -1;
  }
  if (write_marker(r, 0, 1, &errmsg) != 0) {
    report(r, record->generation, XDS_E_STORE, (const uint8_t *)MARKER_KEY, strlen(MARKER_KEY), "storing into xds-config: %s", errmsg);
    return -1;
  }
  size_t undone = 0;
  int code = XDS_OK;
  offset = 0;
  for (uint64_t n = 0; n < record->count && code == XDS_OK; n++) {
    xds_next_op(entries, record->length, &offset, &op, 1, error, sizeof error);
    code = change_key(r, &undone, op.key, op.key_len, op.value, op.value_len, op.deleted, &errmsg);
  }
  if (finish_batch(r, record->generation, code, undone, code ? op.key : NULL, code ? op.key_len : 0, code ? op.value_len : 0, errmsg) != 0) return -1;
  write_marker(r, record->generation, 0, &errmsg);
  /* Only now may `current` change: the undo log pointed into it. */
  if (xds_state_apply(&r->current, entries, record->length, record->count, 1, error, sizeof error) != 0) r->resync = 1;
  r->current_gen = record->generation;
  r->at.log_offset = log_offset;
  report(r, record->generation, XDS_OK, NULL, 0, "");
  return 0;
}

/* The records after `current` up to `generation`, each its own batch. 0: applied, 1: not in the log
 * after `current` (apply the whole state instead), -1: a record failed (reported). */
static int try_deltas(struct reader *r, uint64_t generation) {
  struct chain c;
  if (r->current_gen == 0 || r->current_gen >= generation || r->resync || copy_chain(r, generation, &r->at, &c) != 0) return 1;
  uint64_t offset = r->at.log_offset;
  int rc = 0;
  while (r->current_gen != generation && rc == 0) {
    struct xds_record record;
    const uint8_t *entries;
    char error[200];
    if (next_record(&c, &offset, &record, &entries, error, sizeof error) != 0 || record.generation > generation) rc = 1;
    else rc = apply_delta(r, &record, entries, offset);
  }
  free(c.bytes);
  return rc;
}

static void try_apply(struct reader *r, uint64_t generation) {
  int rc = try_deltas(r, generation);
  if (rc <= 0) {
    r->attempted_gen = generation;
    if (rc < 0 && XDS_LOAD(&r->h->status.failed_generation) < generation) {
      /* An earlier record failed: the agent waits for this one, which cannot apply either. */
      XDS_STORE(&r->h->status.failed_generation, generation);
      __atomic_fetch_add(&r->h->ack_seq, 1, __ATOMIC_SEQ_CST);
      xds_futex_wake_all(&r->h->ack_seq);
    }
    return;
  }
  struct xds_state next;
  struct position at;
  char error[200];
  rc = materialize(r, generation, &next, &at, error, sizeof error);
  if (rc > 0) return; /* being rewritten: the futex wakes us when that publication lands */
  r->attempted_gen = generation;
  if (rc < 0) report(r, generation, XDS_E_MALFORMED, NULL, 0, "malformed state: %s", error);
  else apply_state(r, generation, &next, &at);
}

/* A new instance learns what the dict holds from the marker and the chain it names. */
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
    char error[200];
    if (materialize(r, generation, &r->current, &r->at, error, sizeof error) == 0) {
      r->current_gen = generation;
      return;
    }
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
