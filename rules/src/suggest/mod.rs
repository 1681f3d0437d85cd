//! Profile suggestion (placeholder).
