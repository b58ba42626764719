//! The cache manager's own metrics, as `ResilientCacheWrapper.get_metrics()["cache"]`: a dict
//! copied, a dataclass through `asdict`, else `to_dict()` or `vars()`, made JSON-safe; `{}` if
//! the manager has none or reading them fails (FACT's demo passes the result to `json.dumps`,
//! and `get_metrics` must never raise for the cache part).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

/// A JSON-safe copy: scalars kept, dicts and sequences copied, anything else as `str()`.
fn json_safe<'py>(v: &Bound<'py, PyAny>, depth: u32) -> PyResult<Bound<'py, PyAny>> {
    let py = v.py();
    if v.is_none()
        || v.is_instance_of::<PyBool>()
        || v.is_instance_of::<PyInt>()
        || v.is_instance_of::<PyFloat>()
        || v.is_instance_of::<PyString>()
    {
        return Ok(v.clone());
    }
    if depth < 16 {
        if let Ok(d) = v.cast::<PyDict>() {
            let out = PyDict::new(py);
            for (k, x) in d.iter() {
                let key = if k.is_instance_of::<PyString>() {
                    k
                } else {
                    k.str()?.into_any()
                };
                out.set_item(key, json_safe(&x, depth + 1)?)?;
            }
            return Ok(out.into_any());
        }
        if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
            let out = PyList::empty(py);
            for x in v.try_iter()? {
                out.append(json_safe(&x?, depth + 1)?)?;
            }
            return Ok(out.into_any());
        }
    }
    Ok(v.str()?.into_any())
}

/// The manager's metrics as a dict, or `{}` if it has none or they cannot be read.
pub fn cache_metrics<'py>(manager: &Bound<'py, PyAny>) -> Bound<'py, PyDict> {
    let py = manager.py();
    let read = || -> PyResult<Bound<'py, PyAny>> {
        let Ok(get_metrics) = manager.getattr("get_metrics") else {
            return Ok(PyDict::new(py).into_any());
        };
        let m = get_metrics.call0()?;
        if m.is_instance_of::<PyDict>() {
            return json_safe(&m, 0);
        }
        let dataclasses = py.import("dataclasses")?;
        if !m.is_instance_of::<PyType>()
            && dataclasses
                .call_method1("is_dataclass", (&m,))?
                .is_truthy()?
        {
            return json_safe(&dataclasses.call_method1("asdict", (&m,))?, 0);
        }
        if let Ok(to_dict) = m.getattr("to_dict") {
            let d = to_dict.call0()?;
            if d.is_instance_of::<PyDict>() {
                return json_safe(&d, 0);
            }
        }
        let vars = py.import("builtins")?.getattr("vars")?.call1((&m,))?;
        let out = PyDict::new(py);
        for (k, x) in vars.cast::<PyDict>()?.iter() {
            if k.cast::<PyString>()
                .is_ok_and(|s| !s.to_string_lossy().starts_with('_'))
            {
                out.set_item(k, json_safe(&x, 1)?)?;
            }
        }
        Ok(out.into_any())
    };
    match read() {
        Ok(d) => d.cast_into::<PyDict>().unwrap_or_else(|_| PyDict::new(py)),
        Err(_) => PyDict::new(py),
    }
}
