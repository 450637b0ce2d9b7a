"""Reports: hyperparameter selection, Tables 2 and 3 beside the paper's numbers, paired comparisons and plots,
rendered from a sweep's results table (:func:`rdlr.report.build.render_report`)."""
