//! femtoc's compiler: analyses, backends and the blob writer.
