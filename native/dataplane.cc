#include "dataplane.h"

namespace pciov {

uint16_t csum_partial(const uint8_t* buf, size_t len, uint32_t initial) {
  uint64_t sum = initial;
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum += (static_cast<uint32_t>(buf[i]) << 8) | buf[i + 1];
  if (i < len) sum += static_cast<uint32_t>(buf[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

void rx_writeback(uint8_t* ring, size_t first, size_t count, size_t ring_len, uint16_t len, uint16_t vlan) {
  const uint8_t DD = 0x01, EOP = 0x02;
  for (size_t k = 0; k < count; k++) {
    uint8_t* d = ring + ((first + k) % ring_len) * 16;
    d[8] = static_cast<uint8_t>(len & 0xff);
    d[9] = static_cast<uint8_t>(len >> 8);
    d[12] = DD | EOP;
    d[13] = 0;
    d[14] = static_cast<uint8_t>(vlan & 0xff);
    d[15] = static_cast<uint8_t>(vlan >> 8);
  }
}

}  // namespace pciov
