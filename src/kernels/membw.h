// Measures this machine's memory read bandwidth, the roofline that decode speed is judged by.
#pragma once

namespace r1::kernels {

// Bytes per second read from a buffer much larger than the caches (allocated as weights are),
// with the process thread pool's threads, each reading 4 streams side by side (as the decode
// kernels read several weight rows) with the best kernels' vectors (KernelTable::sum_streams); the best
// of a few passes.
double measure_read_bandwidth(double buffer_mib = 512);

}  // namespace r1::kernels
