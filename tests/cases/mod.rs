mod bad_input;
mod copy;
mod interrupt;
mod seed_simulators;
mod shard;
