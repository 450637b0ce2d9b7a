"""``rdlr serve``: trained models as an HTTP service on Ray Serve, with a page to try them.

:mod:`rdlr.serve.service` starts it (models checked, Ray started or joined, Ctrl-C stops it);
:mod:`rdlr.serve.app` is the Serve application (front-end replicas that decode and extract, a batching classifier
per model); :mod:`rdlr.serve.uploads` reads and checks what a request carries; :mod:`rdlr.serve.page` holds the page.
"""
