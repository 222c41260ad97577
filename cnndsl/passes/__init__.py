"""The passes, in the order the compiler runs them: resolve, expand (with shapes), lint."""
