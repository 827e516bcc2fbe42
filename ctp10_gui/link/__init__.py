"""Qt glue between the driver and the views: the acquisition worker and the link controller."""
