#include "xds_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xds_layout.h"

static uint64_t hash_key(const uint8_t *key, uint32_t len) {
  uint64_t h = 1469598103934665603ULL;
  for (uint32_t i = 0; i < len; i++) h = (h ^ key[i]) * 1099511628211ULL;
  return h;
}

static uint32_t read_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void xds_state_free(struct xds_state *state) {
  for (struct xds_entry *e = state->first, *next; e; e = next) {
    next = e->next;
    free(e);
  }
  free(state->buckets);
  memset(state, 0, sizeof *state);
}

static struct xds_entry **bucket_of(const struct xds_state *state, uint64_t hash) { return &state->buckets[hash & (state->bucket_count - 1)]; }

const struct xds_entry *xds_state_find(const struct xds_state *state, const uint8_t *key, uint32_t key_len) {
  if (state->count == 0) return NULL;
  uint64_t hash = hash_key(key, key_len);
  for (const struct xds_entry *e = *bucket_of(state, hash); e; e = e->bucket_next)
    if (e->hash == hash && e->key_len == key_len && memcmp(e->data, key, key_len) == 0) return e;
  return NULL;
}

static int grow(struct xds_state *state) {
  size_t size = state->bucket_count ? state->bucket_count * 2 : 64;
  struct xds_entry **buckets = calloc(size, sizeof *buckets);
  if (!buckets) return -1;
  free(state->buckets);
  state->buckets = buckets;
  state->bucket_count = size;
  for (struct xds_entry *e = state->first; e; e = e->next) {
    struct xds_entry **b = bucket_of(state, e->hash);
    e->bucket_next = *b;
    *b = e;
  }
  return 0;
}

/* Unlinks `e` from its bucket; the order list is the caller's business. */
static void unlink_bucket(struct xds_state *state, const struct xds_entry *e) {
  for (struct xds_entry **p = bucket_of(state, e->hash); *p; p = &(*p)->bucket_next)
    if (*p == e) {
      *p = e->bucket_next;
      return;
    }
}

int xds_state_put(struct xds_state *state, const uint8_t *key, uint32_t key_len, const uint8_t *value, uint32_t value_len) {
  if (state->count >= state->bucket_count && grow(state) != 0) return -1;
  struct xds_entry *e = malloc(sizeof *e + (size_t)key_len + value_len);
  if (!e) return -1;
  e->hash = hash_key(key, key_len);
  e->key_len = key_len;
  e->value_len = value_len;
  memcpy(e->data, key, key_len);
  memcpy(e->data + key_len, value, value_len);
  struct xds_entry *old = (struct xds_entry *)xds_state_find(state, key, key_len);
  struct xds_entry **b = bucket_of(state, e->hash);
  if (old) {
    unlink_bucket(state, old);
    e->prev = old->prev;
    e->next = old->next;
    if (e->prev) e->prev->next = e;
    else state->first = e;
    if (e->next) e->next->prev = e;
    else state->last = e;
    free(old);
  } else {
    e->prev = state->last;
    e->next = NULL;
    if (state->last) state->last->next = e;
    else state->first = e;
    state->last = e;
    state->count++;
  }
  e->bucket_next = *b;
  *b = e;
  return 0;
}

void xds_state_remove(struct xds_state *state, const uint8_t *key, uint32_t key_len) {
  struct xds_entry *e = (struct xds_entry *)xds_state_find(state, key, key_len);
  if (!e) return;
  unlink_bucket(state, e);
  if (e->prev) e->prev->next = e->next;
  else state->first = e->next;
  if (e->next) e->next->prev = e->prev;
  else state->last = e->prev;
  state->count--;
  free(e);
}

int xds_next_op(const uint8_t *payload, size_t length, size_t *offset, struct xds_op *op, int deltas_allowed, char *error, size_t error_len) {
  size_t at = *offset;
  if (length - at < 8) {
    snprintf(error, error_len, "truncated entry header at byte %zu", at);
    return -1;
  }
  uint32_t key_len = read_u32(payload + at), value_len = read_u32(payload + at + 4);
  at += 8;
  op->deleted = value_len == XDS_DELETED;
  if (op->deleted) value_len = 0;
  if (key_len == 0 || key_len > 65535 || (op->deleted && !deltas_allowed) || (uint64_t)key_len + value_len > length - at) {
    snprintf(error, error_len, "key of %u and value of %u bytes do not fit at byte %zu", key_len, value_len, at);
    return -1;
  }
  op->key = payload + at;
  op->key_len = key_len;
  op->value = payload + at + key_len;
  op->value_len = value_len;
  *offset = at + key_len + value_len;
  return 0;
}

int xds_state_apply(struct xds_state *state, const uint8_t *payload, size_t length, size_t count, int deltas_allowed, char *error, size_t error_len) {
  size_t offset = 0;
  struct xds_op op;
  for (size_t n = 0; n < count; n++) {
    char why[160];
    if (xds_next_op(payload, length, &offset, &op, deltas_allowed, why, sizeof why) != 0) {
      snprintf(error, error_len, "entry %zu: %s", n, why);
      return -1;
    }
    if (op.deleted) xds_state_remove(state, op.key, op.key_len);
    else if (xds_state_put(state, op.key, op.key_len, op.value, op.value_len) != 0) {
      snprintf(error, error_len, "out of memory indexing entry %zu", n);
      return -1;
    }
  }
  if (offset != length) {
    snprintf(error, error_len, "%zu trailing bytes after %zu entries", length - offset, count);
    return -1;
  }
  return 0;
}
