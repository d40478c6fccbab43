"""Where runs execute: run launchers for deployments beyond Dagster's default one."""
