"""Scheduled analytics jobs per building: mould model, comfort index, alerts."""
