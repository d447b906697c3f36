//! Benches of the project: criterion micro-benches under `benches/`, run by `make bench`.
//! Whole-pipeline and ingest harnesses arrive with the stages they measure.
