// Data-plane helpers shared by the native addon. They work on flat bytes exactly as the
// TypeScript twins in src/native/dataplane-ts.ts do; a differential test keeps them identical.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pciov {
// RFC 1071 Internet checksum partial sum (ones' complement, big-endian 16-bit words) of
// buf[0..len), folded to 16 bits, starting from `initial` (a previous partial sum).
uint16_t csum_partial(const uint8_t* buf, size_t len, uint32_t initial);
// Fill `count` 16-byte legacy RX descriptors' status bytes: write back length + DD|EOP
// (the layout of src/nic descriptors: addr[0..8) len[8..10) csum[10..12) status[12] errors[13] vlan[14..16)).
void rx_writeback(uint8_t* ring, size_t first, size_t count, size_t ring_len, uint16_t len, uint16_t vlan);
}  // namespace pciov
