mod bad_input;
mod copy;
mod faults;
mod interrupt;
mod seed_simulators;
mod shard;
mod soak;
