//! Intel VT-d queued invalidation: the Invalidation Queue hardware, the Linux driver code that
//! submits to it (drivers/iommu/intel/dmar.c), named kernel variants, and the scenario encoding.

pub mod campaign;
pub mod cause;
pub mod driver;
pub mod encode;
pub mod ghost;
pub mod hw;
pub mod label;
pub mod model;
pub mod ops;
pub mod report;
pub mod scenario;
pub mod seeds;
pub mod variants;
pub mod world;
