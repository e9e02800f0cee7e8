//! Text renderings of mmm_control output (being built).
