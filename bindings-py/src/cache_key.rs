//! `CacheKey`: a cache key kept exactly as the caller gave it (a `str`, `bytes` or `int`), so a
//! remembered key is invalidated as that same key, never as its `str()`.

use crate::errors::type_error;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyString};

/// A key the wrapper can remember, ordered so the core can keep a set of them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CacheKey {
    Str(String),
    Bytes(Vec<u8>),
    Int(i64),
}

impl CacheKey {
    /// The key `v` is, or a `TypeError` naming `key` for a type the manager's key could not be
    /// given back as (a `bool`, a float, a tuple, an int beyond 64 bits...).
    pub fn from_py(v: &Bound<'_, PyAny>) -> PyResult<CacheKey> {
        if let Ok(s) = v.cast::<PyString>() {
            return Ok(CacheKey::Str(s.to_cow()?.into_owned()));
        }
        if let Ok(b) = v.cast::<PyBytes>() {
            return Ok(CacheKey::Bytes(b.as_bytes().to_vec()));
        }
        if v.is_exact_instance_of::<PyInt>()
            && let Ok(n) = v.extract::<i64>()
        {
            return Ok(CacheKey::Int(n));
        }
        Err(type_error("key", "a str, bytes or int (64-bit)", v))
    }

    /// The key as the Python object it was given as.
    pub fn to_py<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match self {
            CacheKey::Str(s) => PyString::new(py, s).into_any(),
            CacheKey::Bytes(b) => PyBytes::new(py, b).into_any(),
            CacheKey::Int(n) => PyInt::new(py, *n).into_any(),
        }
    }
}
