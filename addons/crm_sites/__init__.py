# Landing pages and CRM web forms: classes are registered from tryton.cfg
# ([register]).  Importing routes registers the public HTTP routes with
# trytond.wsgi (once: not again when a test runner imports the folder as
# 'crm_sites').  When trytond.wsgi itself is loading this package for
# HostMiddleware ([wsgi middleware]), the routes are imported by the
# middleware on its first request instead (trytond.wsgi is not ready yet).
if __name__ == 'trytond.modules.crm_sites':
    from .host import wsgi_loading

    if not wsgi_loading():
        from . import routes

        __all__ = ['routes']
