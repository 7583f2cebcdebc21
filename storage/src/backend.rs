//! Object-store backend (being written).
