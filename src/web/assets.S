/* The web page's files, linked into the binary as read-only data (no build step, no generator):
 * each is web_<name> .. web_<name>_end. Paths are relative to the repository root, where make runs. */
    .section .rodata
    .global web_index_html, web_index_html_end, web_app_js, web_app_js_end, web_style_css, web_style_css_end
web_index_html:
    .incbin "src/web/assets/index.html"
web_index_html_end:
web_app_js:
    .incbin "src/web/assets/app.js"
web_app_js_end:
web_style_css:
    .incbin "src/web/assets/style.css"
web_style_css_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
