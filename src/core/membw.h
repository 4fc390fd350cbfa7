// Measures this machine's memory read bandwidth, the roofline that decode speed is judged by.
#pragma once

namespace r1 {

// Bytes per second read from a buffer much larger than the caches, with the process thread
// pool's threads, each reading 4 streams side by side (as the decode kernels read several weight
// rows); the best of a few passes.
double measure_read_bandwidth(double buffer_mib = 512);

}  // namespace r1
