"""What each network's API tells us about a post and a profile.

A metric that is missing here is stored as NULL by whoever records metrics for that network
(the connectors, the demo), so that charts and averages skip it instead of reading a zero.
The connector packages refine these sets (e.g. reach needs a business account on Facebook).
"""

from .models import Network

POST_METRICS: dict[str, frozenset[str]] = {
    # Public counters only: favourites, boosts, replies.
    Network.MASTODON: frozenset({"likes", "shares", "comments"}),
    # likeCount, repostCount (+ quoteCount), replyCount.
    Network.BLUESKY: frozenset({"likes", "shares", "comments"}),
    # public_metrics + non_public_metrics for the account's own posts.
    Network.X: frozenset({"impressions", "likes", "comments", "shares", "saves", "clicks", "video_views"}),
    # Page post insights.
    Network.FACEBOOK: frozenset({"impressions", "reach", "likes", "comments", "shares", "clicks", "video_views"}),
    # Media insights (business accounts).
    Network.INSTAGRAM: frozenset({"impressions", "reach", "likes", "comments", "shares", "saves", "video_views"}),
    Network.THREADS: frozenset({"impressions", "likes", "comments", "shares"}),
    # Organisation share statistics (no video views: Tertulia publishes no LinkedIn video).
    Network.LINKEDIN: frozenset({"impressions", "reach", "likes", "comments", "shares", "clicks"}),
    # Channel post views and reactions, replies in the linked discussion group.
    Network.TELEGRAM: frozenset({"impressions", "likes", "comments"}),
    # Only the comment count; visits come from our own short links.
    Network.WORDPRESS: frozenset({"comments"}),
    # ``hits`` (views of the article page, bots and repeat visits included) as impressions.
    Network.JOOMLA: frozenset({"impressions"}),
    Network.WHATSAPP: frozenset(),  # a messaging channel: no posts, no post metrics
    # videos.list statistics: viewCount, likeCount, commentCount (reach and impressions live in
    # YouTube Analytics, which the Data API does not give).
    Network.YOUTUBE: frozenset({"video_views", "likes", "comments"}),
}

PROFILE_FIELDS: dict[str, frozenset[str]] = {
    Network.MASTODON: frozenset({"followers", "following", "posts"}),
    Network.BLUESKY: frozenset({"followers", "following", "posts"}),
    Network.X: frozenset({"followers", "following", "posts"}),
    Network.FACEBOOK: frozenset({"followers"}),
    Network.INSTAGRAM: frozenset({"followers", "following", "posts"}),
    Network.THREADS: frozenset({"followers"}),
    Network.LINKEDIN: frozenset({"followers"}),
    Network.TELEGRAM: frozenset({"followers"}),
    Network.WORDPRESS: frozenset({"posts"}),
    Network.JOOMLA: frozenset({"posts"}),  # the site's article count
    Network.WHATSAPP: frozenset(),  # the Cloud API exposes no follower counts
    Network.YOUTUBE: frozenset({"followers", "posts"}),  # subscribers (unless hidden), videos
}

# Where each kind of conversation exists for a brand account.
INTERACTION_KINDS: dict[str, frozenset[str]] = {
    Network.MASTODON: frozenset({"comment", "mention", "dm"}),
    Network.BLUESKY: frozenset({"comment", "mention", "dm"}),
    Network.X: frozenset({"comment", "mention", "dm"}),
    Network.FACEBOOK: frozenset({"comment", "mention", "dm"}),
    Network.INSTAGRAM: frozenset({"comment", "mention", "dm"}),
    Network.THREADS: frozenset({"comment", "mention"}),
    Network.LINKEDIN: frozenset({"comment"}),  # page mentions are not offered to this kind of app
    Network.TELEGRAM: frozenset({"comment", "dm"}),
    Network.WORDPRESS: frozenset({"comment"}),
    Network.JOOMLA: frozenset(),  # Joomla core has no comments: the inbox does not poll it
    Network.WHATSAPP: frozenset({"dm"}),  # one-to-one conversations, by webhook
    Network.YOUTUBE: frozenset({"comment"}),  # comment threads on the channel's videos
}

# Channels that publish nothing: conversations only (the composer does not offer them).
MESSAGING_ONLY: frozenset[str] = frozenset({Network.WHATSAPP})
