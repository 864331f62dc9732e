module github.com/ngxtasks/ngxtasks

go 1.26.0
