//! A wrapper's `hierarchy=` and `key_path=`: the registry whose breakers admit a cache call on
//! a key beside the wrapper's own breaker, and the path (one segment per level) a key maps to.
//! Checking the arguments and calling `key_path` is all this file does; the registry decides.

use crate::errors::type_error;
use crate::registry::PyRegistry;
use fact_resilience_core::RegistryError;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::PyString;

/// The registry, the user's `key_path` (None: `[key]`), and how many levels a path names.
pub struct Hierarchy {
    registry: Py<PyRegistry>,
    key_path: Option<Py<PyAny>>,
    levels: usize,
}

impl Hierarchy {
    /// The hierarchy the arguments ask for (None without one), or an error naming the argument.
    pub fn from_args(
        hierarchy: Option<&Bound<'_, PyAny>>,
        key_path: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Hierarchy>> {
        let key_path = key_path.filter(|f| !f.is_none());
        if let Some(f) = key_path
            && !f.is_callable()
        {
            return Err(type_error("key_path", "a callable (key) -> list[str]", f));
        }
        let Some(h) = hierarchy.filter(|h| !h.is_none()) else {
            return match key_path {
                None => Ok(None),
                Some(_) => Err(PyValueError::new_err(
                    "key_path needs hierarchy: it maps a key to a path of hierarchy's levels",
                )),
            };
        };
        let registry = h
            .cast::<PyRegistry>()
            .map_err(|_| type_error("hierarchy", "a BreakerRegistry", h))?;
        let levels = registry.borrow().level_count();
        if key_path.is_none() && levels != 1 {
            return Err(PyValueError::new_err(format!(
                "key_path is required: hierarchy has {levels} levels, and without key_path a \
                 key's path is [key] (one segment)"
            )));
        }
        Ok(Some(Hierarchy {
            registry: registry.clone().unbind(),
            key_path: key_path.map(|f| f.clone().unbind()),
            levels,
        }))
    }

    /// The registry, borrowed for one call.
    pub fn registry<'py>(&self, py: Python<'py>) -> PyResult<PyRef<'py, PyRegistry>> {
        self.registry
            .bind(py)
            .try_borrow()
            .map_err(|e| PyRuntimeError::new_err(format!("hierarchy: {e}")))
    }

    /// `key`'s path: `key_path(key)`, or `[key]`; a `TypeError` or `ValueError` naming
    /// `key_path` (or `key`) for one the registry cannot take.
    pub fn path(&self, key: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let path: Vec<String> = match &self.key_path {
            None => {
                let key = key.cast::<PyString>().map_err(|_| {
                    type_error(
                        "key",
                        "a str when hierarchy has no key_path (its path is [key])",
                        key,
                    )
                })?;
                vec![key.to_cow()?.into_owned()]
            }
            Some(f) => {
                let got = f.bind(key.py()).call1((key,))?;
                if got.is_instance_of::<PyString>() {
                    return Err(type_error(
                        "key_path(key)",
                        "a list of str, not one str",
                        &got,
                    ));
                }
                got.extract()
                    .map_err(|_| type_error("key_path(key)", "a list of str", &got))?
            }
        };
        if path.len() != self.levels {
            let e = RegistryError::PathLength {
                expected: self.levels,
                got: path.len(),
            };
            return Err(PyValueError::new_err(format!("key_path(key): {e}")));
        }
        Ok(path)
    }

    pub fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.registry)?;
        if let Some(f) = &self.key_path {
            visit.call(f)?;
        }
        Ok(())
    }
}
