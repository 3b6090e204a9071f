"""Light list pages for the API's paginator."""


class LightPage:
    """A queryset as ninja's paginator uses it, which only counts (``.all().count()``) and
    slices: a subclass reads a slice's rows its own, lighter way (``rows``) instead of building
    every related model of every row."""

    def __init__(self, queryset):
        self.queryset = queryset

    def all(self):
        return self.queryset

    def __len__(self):
        return self.queryset.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index:index + 1][0]
        return self.rows(index)

    def rows(self, index: slice) -> list:
        raise NotImplementedError
