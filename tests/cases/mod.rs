mod bad_input;
mod copy;
mod faults;
mod interrupt;
mod operator;
mod seed_simulators;
mod shard;
mod soak;
