//! A breaker's state-change listeners: the registered callables, and calling them after a
//! transition.
//!
//! The list sits behind a `std::sync::Mutex` that is never held while Python runs: notifying
//! and removing work on a copy taken under the lock.
//!
//! Listeners never run nested inside one another. A transition caused from inside a listener
//! (a listener that calls back into a breaker) is queued on the thread and delivered by the
//! outermost `notify` once the running listener has returned: native recursion through
//! listeners would overflow a small thread stack and crash the process instead of raising
//! `RecursionError`.

use crate::errors::type_error;
use crate::interop::{log_error, reason_str, state_member};
use fact_resilience_core::Transition;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::PyList;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

/// A transition waiting for delivery, with the listeners registered when it happened.
type Queued = (Vec<Py<PyAny>>, Transition);

thread_local! {
    /// `Some` while this thread is delivering notifications: the transitions caused meanwhile.
    static DELIVERING: RefCell<Option<VecDeque<Queued>>> = const { RefCell::new(None) };
}

/// The callables run as `listener(from_state, to_state, reason)` after every transition.
pub struct Listeners {
    list: Mutex<Vec<Py<PyAny>>>,
}

impl Listeners {
    /// From the `on_state_change=` argument: None, a callable, or an iterable of callables.
    pub fn from_arg(arg: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(Listeners {
            list: Mutex::new(listener_list(arg)?),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Py<PyAny>>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `listener` at the end.
    pub fn push(&self, listener: Py<PyAny>) {
        self.lock().push(listener);
    }

    /// Removes the first listener that is or equals `listener`; returns whether there was one.
    pub fn remove(&self, listener: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = listener.py();
        let current: Vec<Py<PyAny>> = self.lock().iter().map(|f| f.clone_ref(py)).collect();
        let mut target = None;
        for f in &current {
            if f.bind(py).is(listener) || f.bind(py).eq(listener)? {
                target = Some(f.as_ptr());
                break;
            }
        }
        let Some(target) = target else {
            return Ok(false);
        };
        let removed = {
            let mut l = self.lock();
            l.iter()
                .position(|f| f.as_ptr() == target)
                .map(|i| l.remove(i))
        };
        Ok(removed.is_some())
    }

    /// The registered listeners, as a new list.
    pub fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items: Vec<Py<PyAny>> = self.lock().iter().map(|f| f.clone_ref(py)).collect();
        PyList::new(py, items)
    }

    /// Calls the listeners with `(from_state, to_state, reason)`, outside every lock. A
    /// listener that raises an `Exception` is logged and the others still run; any other
    /// `BaseException` (`SystemExit`, `KeyboardInterrupt`) stops delivery, drops what was
    /// queued, and is returned. Called from inside a listener, it only queues (see the module
    /// doc).
    pub fn notify(&self, py: Python<'_>, moved: Option<Transition>) -> PyResult<()> {
        let Some(t) = moved else { return Ok(()) };
        let listeners: Vec<Py<PyAny>> = {
            let l = self.lock();
            if l.is_empty() {
                return Ok(());
            }
            l.iter().map(|f| f.clone_ref(py)).collect()
        };
        let outermost = DELIVERING.with(|d| {
            let mut d = d.borrow_mut();
            match d.as_mut() {
                Some(queue) => {
                    queue.push_back((listeners, t));
                    None
                }
                None => {
                    *d = Some(VecDeque::new());
                    Some((listeners, t))
                }
            }
        });
        let Some(mut next) = outermost else {
            return Ok(());
        };
        let result = loop {
            if let Err(e) = deliver(py, &next.0, next.1) {
                break Err(e);
            }
            match DELIVERING.with(|d| d.borrow_mut().as_mut().and_then(VecDeque::pop_front)) {
                Some(q) => next = q,
                None => break Ok(()),
            }
        };
        // Dropped outside the borrow: a decref may run Python code.
        let rest = DELIVERING.with(|d| d.borrow_mut().take());
        drop(rest);
        result
    }

    /// Visits the listeners for the garbage collector (none if the list is locked).
    pub fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(l) = self.list.try_lock() {
            for f in l.iter() {
                visit.call(f)?;
            }
        }
        Ok(())
    }

    /// Drops every listener (outside the lock).
    pub fn clear(&self) {
        let old = std::mem::take(&mut *self.lock());
        drop(old);
    }
}

fn listener_list(arg: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Py<PyAny>>> {
    let Some(arg) = arg.filter(|a| !a.is_none()) else {
        return Ok(Vec::new());
    };
    let expected = "a callable or an iterable of callables";
    if arg.is_callable() {
        return Ok(vec![arg.clone().unbind()]);
    }
    let iter = arg
        .try_iter()
        .map_err(|_| type_error("on_state_change", expected, arg))?;
    let mut out = Vec::new();
    for f in iter {
        let f = f?;
        if !f.is_callable() {
            return Err(type_error("on_state_change", expected, &f));
        }
        out.push(f.unbind());
    }
    Ok(out)
}

/// Runs `listeners` for one transition (see [`Listeners::notify`]).
fn deliver(py: Python<'_>, listeners: &[Py<PyAny>], t: Transition) -> PyResult<()> {
    let args = (|| -> PyResult<_> {
        Ok((
            state_member(py, t.from)?,
            state_member(py, t.to)?,
            reason_str(py, t.reason),
        ))
    })();
    let args = match args {
        Ok(a) => a,
        Err(e) => {
            log_error(
                py,
                "cannot notify listeners %r",
                &py.None().into_bound(py),
                e,
            );
            return Ok(());
        }
    };
    for f in listeners {
        let f = f.bind(py);
        if let Err(e) = f.call1(args.clone()) {
            if !e.is_instance_of::<PyException>(py) {
                return Err(e);
            }
            log_error(py, "state-change listener %r raised", f, e);
        }
    }
    Ok(())
}
