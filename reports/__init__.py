"""Plotly reports built from warehouse tables: frames in, figures and HTML files out."""
