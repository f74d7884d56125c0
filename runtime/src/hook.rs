//! Named hooks: points in the host where attached containers run, in
//! attach order, each isolated from the others. Native and interpreted
//! containers mix freely: each runs with its own executor.

use alloc::string::String;
use alloc::vec::Vec;

use crate::container::{Container, Context};
use crate::error::{RunError, RunOutcome};
use crate::helpers::Helpers;

/// A container registered with a [`HookRegistry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(usize);

/// Why an attach failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// No container has this id.
    #[error("no container with id {0:?}")]
    UnknownContainer(ContainerId),
}

/// One container's result of a hook trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookRun {
    /// Which container.
    pub container: ContainerId,
    /// Its outcome or the error that stopped it.
    pub result: Result<RunOutcome, RunError>,
}

/// Containers and the hooks they are attached to.
pub struct HookRegistry<H> {
    containers: Vec<Container<H>>,
    hooks: Vec<(String, Vec<ContainerId>)>,
}

impl<H> Default for HookRegistry<H> {
    fn default() -> Self {
        HookRegistry { containers: Vec::new(), hooks: Vec::new() }
    }
}

impl<H: Helpers> HookRegistry<H> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a container.
    pub fn add(&mut self, container: Container<H>) -> ContainerId {
        self.containers.push(container);
        ContainerId(self.containers.len() - 1)
    }

    /// A registered container.
    pub fn container(&self, id: ContainerId) -> Option<&Container<H>> {
        self.containers.get(id.0)
    }

    /// A registered container, mutably.
    pub fn container_mut(&mut self, id: ContainerId) -> Option<&mut Container<H>> {
        self.containers.get_mut(id.0)
    }

    /// Attaches `id` to `hook` after the containers attached already.
    pub fn attach(&mut self, hook: &str, id: ContainerId) -> Result<(), HookError> {
        if id.0 >= self.containers.len() {
            return Err(HookError::UnknownContainer(id));
        }
        match self.hooks.iter_mut().find(|(n, _)| n == hook) {
            Some((_, list)) => list.push(id),
            None => self.hooks.push((hook.into(), alloc::vec![id])),
        }
        Ok(())
    }

    /// Detaches every attachment of `id` from `hook`; true if there was one.
    pub fn detach(&mut self, hook: &str, id: ContainerId) -> bool {
        let Some((_, list)) = self.hooks.iter_mut().find(|(n, _)| n == hook) else {
            return false;
        };
        let before = list.len();
        list.retain(|c| *c != id);
        list.len() != before
    }

    /// Containers attached to `hook`, in run order.
    pub fn attached(&self, hook: &str) -> &[ContainerId] {
        self.hooks.iter().find(|(n, _)| n == hook).map_or(&[], |(_, l)| l.as_slice())
    }

    /// Runs every container attached to `hook` in attach order with `ctx`
    /// as a read-only context (a container with a context of its own runs
    /// on that instead). A container that faults or runs out of budget is
    /// stopped and reported; the others still run.
    pub fn trigger(&mut self, hook: &str, ctx: Option<&[u8]>) -> Vec<HookRun> {
        let Some((_, list)) = self.hooks.iter().find(|(n, _)| n == hook) else {
            return Vec::new();
        };
        let mut runs = Vec::with_capacity(list.len());
        for &id in list {
            let Some(c) = self.containers.get_mut(id.0) else { continue };
            let context = ctx.map_or(Context::None, Context::Shared);
            runs.push(HookRun { container: id, result: c.run(context) });
        }
        runs
    }
}
