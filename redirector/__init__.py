"""The federation redirector: one launch address in front of several BinderHubs.

`rendezvous` chooses a member for a repository (pure), `settings` reads the configuration the
stack renders, `health` checks the members, `app` is the tornado web application.
"""
