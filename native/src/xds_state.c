#include "xds_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_key(const uint8_t *key, uint32_t len) {
  uint64_t h = 1469598103934665603ULL;
  for (uint32_t i = 0; i < len; i++) h = (h ^ key[i]) * 1099511628211ULL;
  return h;
}

static uint32_t read_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void xds_state_free(struct xds_state *state) {
  free(state->buffer);
  free(state->entries);
  free(state->table);
  memset(state, 0, sizeof *state);
}

long xds_state_find(const struct xds_state *state, const uint8_t *key, uint32_t key_len) {
  if (state->table_size == 0) return -1;
  size_t mask = state->table_size - 1;
  for (size_t i = hash_key(key, key_len) & mask;; i = (i + 1) & mask) {
    uint32_t slot = state->table[i];
    if (slot == 0) return -1;
    const struct xds_entry *e = &state->entries[slot - 1];
    if (e->key_len == key_len && memcmp(e->key, key, key_len) == 0) return (long)(slot - 1);
  }
}

int xds_state_parse(struct xds_state *state, uint8_t *buffer, size_t length, size_t count, char *error, size_t error_len) {
  memset(state, 0, sizeof *state);
  state->buffer = buffer;
  state->length = length;
  if (count > length / 8) {
    snprintf(error, error_len, "slot claims %zu entries in %zu bytes", count, length);
    return -1;
  }
  state->entries = calloc(count ? count : 1, sizeof *state->entries);
  size_t table_size = 16;
  while (table_size < count * 2) table_size <<= 1;
  state->table = calloc(table_size, sizeof *state->table);
  state->table_size = table_size;
  if (!state->entries || !state->table) {
    snprintf(error, error_len, "out of memory indexing %zu entries", count);
    return -1;
  }
  size_t offset = 0;
  for (size_t n = 0; n < count; n++) {
    if (length - offset < 8) {
      snprintf(error, error_len, "entry %zu: truncated header at byte %zu", n, offset);
      return -1;
    }
    uint32_t key_len = read_u32(buffer + offset), value_len = read_u32(buffer + offset + 4);
    offset += 8;
    if (key_len == 0 || key_len > 65535 || (uint64_t)key_len + value_len > length - offset) {
      snprintf(error, error_len, "entry %zu: key of %u and value of %u bytes do not fit at byte %zu", n, key_len, value_len, offset);
      return -1;
    }
    struct xds_entry *e = &state->entries[n];
    e->key = buffer + offset;
    e->key_len = key_len;
    e->value = buffer + offset + key_len;
    e->value_len = value_len;
    offset += (size_t)key_len + value_len;
    size_t mask = table_size - 1, i = hash_key(e->key, key_len) & mask;
    for (; state->table[i] != 0; i = (i + 1) & mask) {
      const struct xds_entry *other = &state->entries[state->table[i] - 1];
      if (other->key_len == key_len && memcmp(other->key, e->key, key_len) == 0) {
        snprintf(error, error_len, "entry %zu: duplicate key %.*s", n, (int)(key_len > 200 ? 200 : key_len), (const char *)e->key);
        return -1;
      }
    }
    state->table[i] = (uint32_t)n + 1;
  }
  if (offset != length) {
    snprintf(error, error_len, "%zu trailing bytes after %zu entries", length - offset, count);
    return -1;
  }
  state->count = count;
  return 0;
}
